import ArgumentParser
import ClusterExec
import Foundation
import Pacemaker

/// What `node add`, `node remove` and `node replace` take.
package struct MembershipArguments: ParsableArguments {
    @Argument(help: "The node added, removed or replaced.") package var name: String

    @OptionGroup package var setup: NodeSetupOptions

    package init() {}

    func run(_ kind: MembershipChange.Kind) async throws {
        guard let (deployment, options) = try setup.load() else { return }
        let change: MembershipChange
        do {
            change = try MembershipChange(kind: kind, name: name, deployment: deployment, options: options)
            _ = try change.check()
        } catch {
            throw CLIError("node \(kind.rawValue): \(error)\nnothing was changed")
        }
        let report: MembershipChange.Report
        do {
            report = try await change.run()
        } catch let error as BootstrapError {
            throw CLIError("node \(kind.rawValue): \(error)")
        }
        let role: String
        switch report.role {
        case .member: role = "a node of the cluster"
        case .joining: role = kind == .add ? "the new node" : "the rebuilt node"
        case .leaving: role = "the node that leaves"
        }
        print("node \(kind.rawValue) \(name): done here (\(role)), \(report.steps.count) change\(report.steps.count == 1 ? "" : "s")")
    }
}

/// `khactl node add NAME -f SPEC`.
package struct NodeAdd: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a controller to the running cluster: run it on every node of the cluster and on the new one, with the spec that includes it.",
        discussion: """
            The spec must differ from the running cluster by exactly the new node. On each node of the cluster, the \
            new corosync.conf is written; corosync reloads it once every member holds it (one corosync-cfgtool -R, \
            from the member with the lowest node id). On the new node (--authkey FILE), it is bootstrapped and joins. \
            The apply engine then adds its fence device and its clone instances; a pair that grows to three loses \
            two_node and the pair's arbiter.
            """)

    @OptionGroup package var arguments: MembershipArguments

    package init() {}

    package func run() async throws { try await arguments.run(.add) }
}

/// `khactl node remove NAME -f SPEC`.
package struct NodeRemove: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a controller, alive or dead: run it on the node (if it runs) and on every node that stays, with the spec without it.",
        discussion: """
            On the node itself, pacemaker stops (its resources move away) and corosync stops; its corosync.conf is put \
            aside. On the others, the new corosync.conf is reloaded once every member holds it, pacemaker forgets the \
            node (crm_node --remove), and its fence device and khactl's constraints naming it go. Three nodes that \
            become two get two_node and the pair's arbiter.
            """)

    @OptionGroup package var arguments: MembershipArguments

    package init() {}

    package func run() async throws { try await arguments.run(.remove) }
}

/// `khactl node replace NAME -f SPEC`.
package struct NodeReplace: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "replace",
        abstract: "Bring back a rebuilt controller (same name and address, new disk): run it on that node only.",
        discussion: """
            The node is bootstrapped from the spec with the cluster's authkey (--authkey FILE) and rejoins; pacemaker \
            gives it the cluster's configuration. Nothing changes on the other nodes.
            """)

    @OptionGroup package var arguments: MembershipArguments

    package init() {}

    package func run() async throws { try await arguments.run(.replace) }
}
