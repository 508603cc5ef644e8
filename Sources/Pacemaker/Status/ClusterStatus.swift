import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The cluster as `crm_mon --output-as=xml` reports it (never its text output).
public struct ClusterStatus: Hashable, Sendable {
    /// A node.
    public struct Node: Hashable, Sendable {
        /// The node's name.
        public let name: String
        /// Whether it is a member of the cluster now.
        public let online: Bool
        /// Whether it is in standby (runs no resources).
        public let standby: Bool
        /// Whether pacemaker cannot tell its state (it must be fenced first).
        public let unclean: Bool
        /// The node's `maintenance` attribute: its resources are neither started, stopped nor monitored.
        public var maintenance = false
    }

    /// A resource instance.
    public struct Resource: Hashable, Sendable {
        /// The resource's id (for a clone instance, the primitive's id).
        public let id: String
        /// The agent, as `class:provider:type`.
        public let agent: String
        /// Its role (`Started`, `Stopped`, `Promoted`, ...).
        public let role: String
        /// Whether it runs somewhere.
        public let active: Bool
        /// Whether an operation of it failed.
        public let failed: Bool
        /// The nodes it runs on.
        public let nodes: [String]
        /// Whether pacemaker manages it (false in maintenance).
        public var managed = true
    }

    /// A failed action from the operation history.
    public struct FailedAction: Hashable, Sendable {
        /// The resource whose operation failed.
        public let resource: String
        /// Where it failed.
        public let node: String
        /// The operation (`start`, `monitor`, ...).
        public let operation: String
        /// Pacemaker's words for the failure.
        public let reason: String
    }

    /// The designated controller's node, if one is elected.
    public let dc: String?
    /// Whether the partition this was read on has quorum.
    public let quorate: Bool
    /// The cluster-wide `maintenance-mode` property as pacemaker reads it.
    public let maintenanceMode: Bool
    /// Every node of the cluster.
    public let nodes: [Node]
    /// Every resource instance.
    public let resources: [Resource]
    /// The failed actions of the operation history.
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
