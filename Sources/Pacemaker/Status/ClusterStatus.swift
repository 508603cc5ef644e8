import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The cluster as `crm_mon --output-as=xml` reports it (never its text output).
public struct ClusterStatus: Hashable, Sendable {
    /// A node.
    public struct Node: Hashable, Sendable {
        public let name: String
        public let online: Bool
        public let standby: Bool
        public let unclean: Bool
        /// The node's `maintenance` attribute: its resources are neither started, stopped nor monitored.
        public var maintenance = false
    }

    /// A resource instance.
    public struct Resource: Hashable, Sendable {
        public let id: String
        public let agent: String
        public let role: String
        public let active: Bool
        public let failed: Bool
        /// The nodes it runs on.
        public let nodes: [String]
        /// Whether pacemaker manages it (false in maintenance).
        public var managed = true
    }

    /// A failed action from the operation history.
    public struct FailedAction: Hashable, Sendable {
        public let resource: String
        public let node: String
        public let operation: String
        public let reason: String
    }

    public let dc: String?
    public let quorate: Bool
    /// The cluster-wide `maintenance-mode` property as pacemaker reads it.
    public let maintenanceMode: Bool
    public let nodes: [Node]
    public let resources: [Resource]
    public let failedActions: [FailedAction]

    /// Parses `crm_mon --output-as=xml`.
    public init(xml: String) throws {
        try WellFormedXML.check(Data(xml.utf8))
        let document = try XMLDocument(xmlString: xml, options: [])
        guard document.rootElement() != nil else { throw MalformedXMLError(line: 0, column: 0, reason: "the input has no root element") }
        func attribute(_ element: XMLElement, _ name: String) -> String? { element.attribute(forName: name)?.stringValue }
        let dcElement = try document.nodes(forXPath: "//summary/current_dc").first as? XMLElement
        dc = dcElement.flatMap { attribute($0, "present") == "true" ? attribute($0, "name") : nil }
        quorate = dcElement.flatMap { attribute($0, "with_quorum") } == "true"
        let options = try document.nodes(forXPath: "//summary/cluster_options").first as? XMLElement
        maintenanceMode = options.flatMap { attribute($0, "maintenance-mode") } == "true"
        nodes = try document.nodes(forXPath: "//nodes/node").compactMap { $0 as? XMLElement }.map {
            Node(
                name: attribute($0, "name") ?? "", online: attribute($0, "online") == "true",
                standby: attribute($0, "standby") == "true", unclean: attribute($0, "unclean") == "true",
                maintenance: attribute($0, "maintenance") == "true")
        }
        resources = try document.nodes(forXPath: "//resources//resource").compactMap { $0 as? XMLElement }.map { resource in
            Resource(
                id: attribute(resource, "id") ?? "", agent: attribute(resource, "resource_agent") ?? "",
                role: attribute(resource, "role") ?? "", active: attribute(resource, "active") == "true",
                failed: attribute(resource, "failed") == "true",
                nodes: resource.elements(forName: "node").compactMap { attribute($0, "name") },
                managed: attribute(resource, "managed") != "false")
        }
        failedActions = try document.nodes(forXPath: "//failures/failure").compactMap { $0 as? XMLElement }.map {
            FailedAction(
                resource: attribute($0, "op_key").map { String($0.split(separator: "_").first ?? "") } ?? "",
                node: attribute($0, "node") ?? "", operation: attribute($0, "task") ?? "",
                reason: attribute($0, "exitreason") ?? attribute($0, "status") ?? "")
        }
    }

    /// The nodes `resource` (a primitive id, or a clone instance id like `haproxy:0`) runs on.
    public func placement(of resource: String) -> [String] {
        resources.filter { $0.id == resource || $0.id.hasPrefix(resource + ":") }.flatMap(\.nodes).sorted()
    }

    /// Where every primitive runs: its id and the sorted nodes of all its active instances.
    public var placements: [String: [String]] {
        var result: [String: [String]] = [:]
        for resource in resources {
            result[resource.id, default: []] += resource.nodes
        }
        return result.mapValues { $0.sorted() }
    }

    /// The primitives with an instance active on `node`.
    public func resources(on node: String) -> [String] {
        Array(Set(resources.filter { $0.nodes.contains(node) }.map(\.id))).sorted()
    }
}
