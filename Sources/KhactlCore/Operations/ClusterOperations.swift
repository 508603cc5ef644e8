import ClusterExec
import Foundation
import Pacemaker
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A problem of a day-2 operation: what failed, on which object, and what to do next.
package struct OperationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The sentence to print.
    package let message: String

    /// Creates an error with `message`.
    package init(_ message: String) { self.message = message }

    package var description: String { message }
}

/// Where a resource ran before and after an operation.
package struct Movement: Hashable, Sendable {
    /// The primitive's id (clone instances are counted together).
    package let resource: String
    /// The nodes it ran on before.
    package let from: [String]
    /// The nodes it runs on after.
    package let to: [String]

    /// Every primitive whose nodes differ between two statuses, sorted by id.
    package static func between(_ before: ClusterStatus, _ after: ClusterStatus) -> [Movement] {
        let old = before.placements
        let new = after.placements
        return Set(old.keys).union(new.keys).sorted().compactMap { id in
            let from = old[id] ?? []
            let to = new[id] ?? []
            return from == to ? nil : Movement(resource: id, from: from, to: to)
        }
    }

    /// `vip: node3 -> node1`.
    package var text: String {
        func nodes(_ list: [String]) -> String { list.isEmpty ? "(stopped)" : list.joined(separator: ",") }
        return "\(resource): \(nodes(from)) -> \(nodes(to))"
    }

    /// `{"resource": ..., "from": [...], "to": [...]}`.
    package var json: JSONValue {
        ["resource": .string(resource), "from": .array(from.map(JSONValue.string)), "to": .array(to.map(JSONValue.string))]
    }
}

/// What the live CIB holds that day-2 operations check their input against.
package struct LiveConfiguration: Sendable {
    /// Ids of every resource, at any depth (primitives, groups, clones, bundles).
    package let resourceIDs: Set<String>
    /// The nodes of the nodes section.
    package let nodeNames: [String]
    /// The primitives inside each resource id (a primitive lists itself).
    package let primitives: [String: [String]]
    /// Location constraints whose ids start with `cli-` (move and ban constraints of khactl, pcs and crmsh):
    /// id, resource and node.
    package let temporaryConstraints: [(id: String, resource: String, node: String)]
    /// The nvpairs of the `khactl-upgrade` property set (a rolling upgrade in progress), by name.
    package let upgradeRecord: [String: String]?

    /// Reads a CIB document.
    package init(cib: String) throws {
        try WellFormedXML.check(Data(cib.utf8))
        let document = try XMLDocument(xmlString: cib, options: [])
        func attribute(_ element: XMLElement, _ name: String) -> String? { element.attribute(forName: name)?.stringValue }
        let resources = try document.nodes(forXPath: "/cib/configuration/resources//*[@id]").compactMap { $0 as? XMLElement }
        resourceIDs = Set(
            resources.filter { ["primitive", "group", "clone", "bundle", "master"].contains($0.name ?? "") }.compactMap { attribute($0, "id") })
        var primitives: [String: [String]] = [:]
        for element in resources where ["primitive", "group", "clone", "bundle", "master"].contains(element.name ?? "") {
            guard let id = attribute(element, "id") else { continue }
            let inner = try element.nodes(forXPath: "descendant-or-self::primitive").compactMap { ($0 as? XMLElement).flatMap { attribute($0, "id") } }
            primitives[id] = inner
        }
        self.primitives = primitives
        nodeNames = try document.nodes(forXPath: "/cib/configuration/nodes/node").compactMap { ($0 as? XMLElement).flatMap { attribute($0, "uname") } }
        temporaryConstraints = try document.nodes(forXPath: "/cib/configuration/constraints/rsc_location").compactMap { node in
            guard let element = node as? XMLElement, let id = attribute(element, "id"), ClusterStateObjects.isTemporaryConstraint(id) else { return nil }
            return (id, attribute(element, "rsc") ?? "", attribute(element, "node") ?? "")
        }
        let record = try document.nodes(forXPath: "/cib/configuration/crm_config/cluster_property_set[@id='\(ClusterStateObjects.upgradeRecordSetID)']").first
            as? XMLElement
        upgradeRecord = record.map { set in
            Dictionary(
                set.elements(forName: "nvpair").compactMap { pair in attribute(pair, "name").map { ($0, attribute(pair, "value") ?? "") } }
            ) { first, _ in first }
        }
    }
}

/// Day-2 operations on a running cluster: standby, maintenance, move, ban, clear, cleanup, and the waits between
/// them. Each one checks its input against the live cluster before it changes anything, and changes cluster
/// state (node attributes, `maintenance-mode`, temporary constraints), never the configuration the apply
/// engine manages.
package struct ClusterOperations: Sendable {
    let runner: any CommandRunner

    /// Operations through `runner` (the local node's pacemaker tools, or a lab node's).
    package init(runner: any CommandRunner = SubprocessRunner()) {
        self.runner = runner
    }

    // MARK: - Reading

    /// The cluster as crm_mon reports it.
    package func status() async throws -> ClusterStatus {
        let output: CommandOutput
        do {
            output = try await runner.check(Command("crm_mon", ["--output-as=xml", "-1", "--inactive"], timeout: .seconds(30)))
        } catch {
            throw OperationError("\(error) (is pacemaker running on this node?)")
        }
        do {
            return try ClusterStatus(xml: output.standardOutput)
        } catch {
            throw OperationError("cannot read crm_mon's XML: \(error)")
        }
    }

    /// The live CIB's resources, nodes, temporary constraints and upgrade record.
    package func configuration() async throws -> LiveConfiguration {
        let output = try await checked(Command("cibadmin", ["--query"], timeout: .seconds(30)))
        do {
            return try LiveConfiguration(cib: output.standardOutput)
        } catch {
            throw OperationError("cannot read the CIB: \(error)")
        }
    }

    /// Throws unless `node` is a node of the cluster.
    package func requireNode(_ node: String, in status: ClusterStatus) throws {
        guard status.nodes.contains(where: { $0.name == node }) else {
            throw OperationError(
                "node '\(node)' is not in the cluster (its nodes: \(status.nodes.map(\.name).joined(separator: ", "))); nothing was changed")
        }
    }

    /// Throws unless `resource` is a resource of the configuration.
    package func requireResource(_ resource: String, in configuration: LiveConfiguration) throws {
        guard configuration.resourceIDs.contains(resource) else {
            let known = configuration.resourceIDs.sorted().prefix(12).joined(separator: ", ")
            throw OperationError("resource '\(resource)' is not in the CIB (it has: \(known)); nothing was changed")
        }
    }

    // MARK: - Waiting

    /// Waits until the cluster has no actions pending (`crm_resource --wait`), at most `timeout`.
    package func settle(timeout: Duration) async throws {
        let seconds = max(1, Int(timeout.components.seconds))
        let command = Command("crm_resource", ["--wait", "--timeout", "\(seconds)s"], timeout: .seconds(Int64(seconds) + 15))
        let output: CommandOutput
        do {
            output = try await runner.run(command)
        } catch {
            throw OperationError("the cluster did not settle within \(seconds) s: \(error)")
        }
        guard output.succeeded else {
            let why = output.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw OperationError("the cluster did not settle within \(seconds) s (crm_resource --wait: \(why.isEmpty ? "exit \(output.status)" : why))")
        }
    }

    // MARK: - Node state

    /// Puts `node` in standby (`on`) or takes it out: the `standby` node attribute, as `pcs node standby` sets it.
    package func setStandby(_ node: String, _ on: Bool) async throws {
        if on {
            try await checked(Command("crm_attribute", ["--node", node, "--name", "standby", "--update", "on"]))
        } else {
            // Both lifetimes: crm_standby and pcs may have set it for the node's lifetime (in the status section).
            try await checked(Command("crm_attribute", ["--node", node, "--name", "standby", "--delete"]))
            try await checked(Command("crm_attribute", ["--node", node, "--name", "standby", "--lifetime", "reboot", "--delete"]))
        }
    }

    /// Turns maintenance on or off: the cluster's `maintenance-mode` property, or one node's `maintenance` attribute.
    package func setMaintenance(_ on: Bool, node: String?) async throws {
        var arguments = node.map { ["--node", $0, "--name", "maintenance"] } ?? ["--type", "crm_config", "--name", "maintenance-mode"]
        arguments += on ? ["--update", "true"] : ["--delete"]
        try await checked(Command("crm_attribute", arguments))
    }

    // MARK: - Resources

    /// Adds a move constraint: `cli-prefer-RSC` on `node`, or, without a node, `cli-ban-RSC-on-HOLDER`.
    /// Returns the id of the constraint it made.
    package func addMoveConstraint(_ resource: String, to node: String?, holder: [String]) async throws -> String {
        var arguments = ["--move", "--resource", resource]
        if let node { arguments += ["--node", node] }
        try await checked(Command("crm_resource", arguments))
        if node != nil { return "cli-prefer-\(resource)" }
        return "cli-ban-\(resource)-on-\(holder.first ?? "")"
    }

    /// Adds a ban constraint `cli-ban-RSC-on-NODE`; returns its id.
    package func addBanConstraint(_ resource: String, from node: String) async throws -> String {
        try await checked(Command("crm_resource", ["--ban", "--resource", resource, "--node", node]))
        return "cli-ban-\(resource)-on-\(node)"
    }

    /// Removes the move and ban constraints of `resource` (every one, or those naming `node`): khactl's, pcs's and
    /// crmsh's. Returns the ids removed.
    @discardableResult
    package func clearTemporaryConstraints(_ resource: String, node: String? = nil, only ids: Set<String>? = nil) async throws -> [String] {
        let configuration = try await configuration()
        let matching = configuration.temporaryConstraints.filter {
            $0.resource == resource && (node == nil || $0.node == node) && (ids == nil || ids!.contains($0.id))
        }
        for constraint in matching {
            try await checked(
                Command("cibadmin", ["--delete", "--scope", "constraints", "--xml-text", "<rsc_location id=\"\(constraint.id)\"/>"]))
        }
        return matching.map(\.id)
    }

    /// Resets failcounts and failed actions: of every resource, or one, on every node, or one.
    package func cleanup(resource: String?, node: String?) async throws {
        var arguments = ["--cleanup"]
        if let resource { arguments += ["--resource", resource] }
        if let node { arguments += ["--node", node] }
        try await checked(Command("crm_resource", arguments, timeout: .seconds(60)))
    }

    // MARK: - Helpers

    @discardableResult
    func checked(_ command: Command) async throws -> CommandOutput {
        do {
            return try await runner.check(command)
        } catch {
            throw OperationError(error.description)
        }
    }
}
