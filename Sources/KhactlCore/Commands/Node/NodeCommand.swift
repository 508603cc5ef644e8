import ArgumentParser
import ClusterExec
import Foundation
import Pacemaker

/// `khactl node`: a controller's state in the running cluster.
package struct NodeCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Add, remove or replace a controller of the running cluster; put a node in standby.",
        subcommands: [NodeAdd.self, NodeRemove.self, NodeReplace.self, NodeStandby.self, NodeUnstandby.self]
    )

    package init() {}
}

/// `--wait SECONDS` of the day-2 commands.
package struct WaitOption: ParsableArguments {
    @Option(help: ArgumentHelp("Wait until the cluster has settled, at most this many seconds, and report what moved.", valueName: "seconds"))
    package var wait: Int?

    package init() {}

    package func validate() throws {
        if let wait, wait < 1 { throw ValidationError("--wait must be at least 1 second") }
    }

    var timeout: Duration? { wait.map { .seconds($0) } }
}

/// The result of a state change: what was done, and what moved once the cluster settled.
struct StateChangeReport {
    var fields: [String: JSONValue]
    var summary: String
    var waited: Bool
    var moved: [Movement]

    func print(_ format: OutputFormat) {
        switch format {
        case .json:
            var object = fields
            object["waited"] = .bool(waited)
            object["moved"] = .array(moved.map(\.json))
            Swift.print(JSONValue.object(object).line)
        case .text:
            Swift.print(summary)
            guard waited else { return }
            if moved.isEmpty {
                Swift.print("nothing moved")
            } else {
                for movement in moved { Swift.print("moved: \(movement.text)") }
            }
        }
    }
}

extension ClusterOperations {
    /// Checks that `node` (if any) is in the cluster, runs `change`, and with a timeout waits for the cluster to
    /// settle and reports what moved. One status read serves the check and the "before".
    func changeState(
        requiring node: String?, wait timeout: Duration?, _ change: () async throws -> Void
    ) async throws -> (moved: [Movement], after: ClusterStatus?) {
        let before = try await status()
        if let node { try requireNode(node, in: before) }
        try await change()
        guard let timeout else { return ([], nil) }
        try await settle(timeout: timeout)
        let after = try await status()
        return (Movement.between(before, after), after)
    }
}

/// `node standby` and `node unstandby`: set or clear the attribute, wait, check and report.
private func setStandby(_ node: String, _ on: Bool, wait timeout: Duration?, output: OutputFormat) async throws {
    let operations = ClusterOperations()
    try await reportingErrors {
        let (moved, after) = try await operations.changeState(requiring: node, wait: timeout) { try await operations.setStandby(node, on) }
        if on, let after, case let left = after.resources(on: node), !left.isEmpty {
            throw OperationError("node \(node) is in standby but still runs \(left.joined(separator: ", ")) after the cluster settled")
        }
        StateChangeReport(
            fields: ["node": .string(node), "standby": .bool(on)], summary: on ? "node \(node): standby" : "node \(node): out of standby",
            waited: timeout != nil, moved: moved
        ).print(output)
    }
}

/// `khactl node standby NAME`: the node keeps its membership and runs no resources.
package struct NodeStandby: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "standby",
        abstract: "Move every resource off a node and keep them off (the node stays a member with its vote).",
        discussion: """
            Sets the node's standby attribute, as `pcs node standby` does: cluster state, not configuration, so \
            `khactl apply` neither undoes nor reports it. With --wait, waits until the cluster has settled, \
            checks that nothing runs on the node any more, and lists what moved.
            """)

    @Argument(help: "The node.") package var node: String
    @OptionGroup package var wait: WaitOption
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        try await setStandby(node, true, wait: wait.timeout, output: global.output)
    }
}

/// `khactl node unstandby NAME`.
package struct NodeUnstandby: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "unstandby",
        abstract: "Let a node in standby run resources again (resource-stickiness keeps the VIP where it is).")

    @Argument(help: "The node.") package var node: String
    @OptionGroup package var wait: WaitOption
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        try await setStandby(node, false, wait: wait.timeout, output: global.output)
    }
}

/// `khactl maintenance on|off [--node NAME]`.
package struct MaintenanceCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Freeze the cluster (or one node): pacemaker stops starting, stopping and monitoring resources.",
        discussion: """
            on: the cluster's maintenance-mode property (or, with --node, that node's maintenance attribute) is set; \
            resources keep running as they are and a process that dies is not recovered. off: removes it; \
            pacemaker probes every resource again and recovers what is not running.
            """)

    /// On or off.
    package enum Switch: String, ExpressibleByArgument, CaseIterable, Sendable {
        case on, off
    }

    @Argument(help: "on or off.") package var state: Switch
    @Option(help: "Only this node (its maintenance attribute) instead of the whole cluster.") package var node: String?
    @OptionGroup package var wait: WaitOption
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let operations = ClusterOperations()
        let on = state == .on
        try await reportingErrors {
            let (moved, _) = try await operations.changeState(requiring: node, wait: wait.timeout) { try await operations.setMaintenance(on, node: node) }
            StateChangeReport(
                fields: ["maintenance": .bool(on), "node": node.map(JSONValue.string) ?? .null],
                summary: "maintenance \(state.rawValue)" + (node.map { " on node \($0)" } ?? " for the whole cluster"),
                waited: wait.timeout != nil, moved: moved
            ).print(global.output)
        }
    }
}
