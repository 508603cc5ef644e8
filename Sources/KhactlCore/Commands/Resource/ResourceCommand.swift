import ArgumentParser
import ClusterExec
import Foundation
import Pacemaker

/// `khactl resource`: move, ban, clear, cleanup.
package struct ResourceCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "resource",
        abstract: "Move or ban a resource, clear move constraints, clean up failures.",
        subcommands: [ResourceMove.self, ResourceBan.self, ResourceClear.self, ResourceCleanup.self]
    )

    package init() {}
}

/// Options of move and ban.
package struct MoveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How long to wait for the resource to move, in seconds.", valueName: "seconds"))
    package var wait = 60

    @Flag(help: "Keep the move or ban constraint once the move is done (`khactl resource clear` removes it).")
    package var keep = false

    package init() {}

    package func validate() throws {
        if wait < 1 { throw ValidationError("--wait must be at least 1 second") }
    }
}

extension ClusterOperations {
    /// Adds a temporary constraint with `add` (given the nodes the resource runs on), waits until `placed` holds for the resource's primitives, then
    /// removes the constraint unless `keep` (and waits again, checking that nothing moved back).
    func moveWithConstraint(
        _ resource: String, options: MoveOptions, expectation: String,
        add: ([String]) async throws -> String, placed: @escaping ([String]) -> Bool
    ) async throws -> (constraint: String, kept: Bool, moved: [Movement]) {
        let configuration = try await configuration()
        try requireResource(resource, in: configuration)
        let primitives = configuration.primitives[resource] ?? [resource]
        func nodes(_ status: ClusterStatus) -> [String] { Array(Set(primitives.flatMap { status.placement(of: $0) })).sorted() }
        let before = try await status()
        let constraint = try await add(nodes(before))
        let timeout = Duration.seconds(options.wait)
        do {
            try await settle(timeout: timeout)
        } catch {
            if !options.keep { try? await clearTemporaryConstraints(resource, only: [constraint]) }
            throw OperationError("\(error); \(options.keep ? "constraint \(constraint) kept" : "constraint \(constraint) removed")")
        }
        let moved = try await status()
        guard placed(nodes(moved)) else {
            if !options.keep { try await clearTemporaryConstraints(resource, only: [constraint]) }
            throw OperationError(
                "\(resource) did not \(expectation): it runs on \(nodes(moved).joined(separator: ", ").isEmpty ? "no node" : nodes(moved).joined(separator: ", "))"
                    + (options.keep ? "; constraint \(constraint) kept" : "; constraint \(constraint) removed"))
        }
        guard !options.keep else { return (constraint, true, Movement.between(before, moved)) }
        try await clearTemporaryConstraints(resource, only: [constraint])
        try await settle(timeout: timeout)
        let after = try await status()
        if nodes(after) != nodes(moved) {
            throw OperationError(
                "\(resource) moved back to \(nodes(after).joined(separator: ", ")) once constraint \(constraint) was removed "
                    + "(its stickiness is lower than its preference there); run again with --keep to hold it")
        }
        return (constraint, false, Movement.between(before, after))
    }
}

/// Prints the outcome of a move or a ban.
private func report(_ action: String, _ resource: String, _ outcome: (constraint: String, kept: Bool, moved: [Movement]), _ format: OutputFormat) {
    switch format {
    case .json:
        print(
            JSONValue.object([
                "action": .string(action), "resource": .string(resource), "constraint": .string(outcome.constraint),
                "kept": .bool(outcome.kept), "moved": .array(outcome.moved.map(\.json)),
            ]).line)
    case .text:
        for movement in outcome.moved { print("moved: \(movement.text)") }
        print(
            outcome.kept
                ? "constraint \(outcome.constraint) kept (`khactl resource clear \(resource)` removes it)"
                : "constraint \(outcome.constraint) removed; nothing holds \(resource) there but its stickiness")
    }
}

/// `khactl resource move RESOURCE [--node NAME]`.
package struct ResourceMove: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "move",
        abstract: "Move a resource to a node (or off its node), then remove the move constraint.",
        discussion: """
            As `pcs resource move`: a cli-prefer constraint (with --node) or a cli-ban constraint on the node it runs \
            on (without), then a wait until it has moved. The constraint is removed once the move is done, unless \
            --keep: resource-stickiness keeps the resource where it went.
            """)

    @Argument(help: "The resource (a primitive, group or clone id).") package var resource: String
    @Option(help: "The node to move it to (default: any node but the one it runs on).") package var node: String?
    @OptionGroup package var options: MoveOptions
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let operations = ClusterOperations()
        try await reportingErrors {
            if let node { try operations.requireNode(node, in: try await operations.status()) }
            var from: [String] = []
            let outcome = try await operations.moveWithConstraint(
                resource, options: options, expectation: node.map { "move to \($0)" } ?? "move off its node",
                add: { holders in
                    from = holders
                    if node == nil && from.count != 1 {
                        throw OperationError("\(resource) runs on \(from.count) nodes; name the node to move it to with --node; nothing was changed")
                    }
                    if let node, from == [node] { throw OperationError("\(resource) already runs on \(node); nothing was changed") }
                    return try await operations.addMoveConstraint(resource, to: node, holder: from)
                },
                placed: { nodes in node.map { nodes == [$0] } ?? (!nodes.isEmpty && Set(nodes).isDisjoint(with: from)) })
            report("move", resource, outcome, global.output)
        }
    }
}

/// `khactl resource ban RESOURCE [--node NAME]`.
package struct ResourceBan: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "ban",
        abstract: "Move a resource off a node (default: the node it runs on), then remove the ban unless --keep.")

    @Argument(help: "The resource (a primitive, group or clone id).") package var resource: String
    @Option(help: "The node to move it off (default: the node it runs on).") package var node: String?
    @OptionGroup package var options: MoveOptions
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let operations = ClusterOperations()
        try await reportingErrors {
            if let node { try operations.requireNode(node, in: try await operations.status()) }
            var banned = node ?? ""
            let outcome = try await operations.moveWithConstraint(
                resource, options: options, expectation: "leave the banned node",
                add: { from in
                    if node == nil {
                        guard from.count == 1 else {
                            throw OperationError("\(resource) runs on \(from.count) nodes; name the node to ban it from with --node; nothing was changed")
                        }
                        banned = from[0]
                    }
                    return try await operations.addBanConstraint(resource, from: banned)
                },
                placed: { nodes in !nodes.contains(banned) })
            report("ban", resource, outcome, global.output)
        }
    }
}

/// `khactl resource clear RESOURCE [--node NAME]`.
package struct ResourceClear: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "clear",
        abstract: "Remove a resource's move and ban constraints (cli-prefer-*, cli-ban-*: khactl's, pcs's and crmsh's).")

    @Argument(help: "The resource.") package var resource: String
    @Option(help: "Only the constraints naming this node.") package var node: String?
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let operations = ClusterOperations()
        try await reportingErrors {
            let configuration = try await operations.configuration()
            try operations.requireResource(resource, in: configuration)
            let removed = try await operations.clearTemporaryConstraints(resource, node: node)
            switch global.output {
            case .json:
                print(JSONValue.object(["resource": .string(resource), "removed": .array(removed.map(JSONValue.string))]).line)
            case .text:
                print(removed.isEmpty ? "\(resource) has no move or ban constraints" : "removed: \(removed.joined(separator: ", "))")
            }
        }
    }
}

/// `khactl resource cleanup [RESOURCE] [--node NAME]`.
package struct ResourceCleanup: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Reset failcounts and failed actions (of every resource, or one; on every node, or one).")

    @Argument(help: "The resource (default: every resource).") package var resource: String?
    @Option(help: "Only on this node.") package var node: String?
    @OptionGroup package var wait: WaitOption
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let operations = ClusterOperations()
        try await reportingErrors {
            if let resource { try operations.requireResource(resource, in: try await operations.configuration()) }
            if let node { try operations.requireNode(node, in: try await operations.status()) }
            let before = try await operations.status()
            try await operations.cleanup(resource: resource, node: node)
            if let timeout = wait.timeout { try await operations.settle(timeout: timeout) }
            let after = try await operations.status()
            let cleared = before.failedActions.count - after.failedActions.count
            switch global.output {
            case .json:
                print(
                    JSONValue.object([
                        "resource": resource.map(JSONValue.string) ?? .null, "node": node.map(JSONValue.string) ?? .null,
                        "failedActionsBefore": .integer(Int64(before.failedActions.count)),
                        "failedActionsAfter": .integer(Int64(after.failedActions.count)),
                    ]).line)
            case .text:
                print("cleaned up \(resource ?? "every resource")\(node.map { " on \($0)" } ?? ""): failed actions \(before.failedActions.count) -> \(after.failedActions.count)")
                if cleared < 0 { print("note: new failures arrived meanwhile") }
            }
        }
    }
}
