import ArgumentParser
import ClusterExec
import Foundation

/// Options of a rolling upgrade, shared by `khactl upgrade` and `khactl lab upgrade`.
package struct UpgradeArguments: ParsableArguments {
    @Flag(help: "One node at a time: standby, the command on that node, unstandby, next (required).")
    package var eachNode = false

    @Option(help: ArgumentHelp("The nodes, in this order (default: every node, by name).", valueName: "node,node,..."))
    package var order: String?

    @Flag(help: "Go on with a run that stopped at a failure (from the record it keeps in the CIB).")
    package var resume = false

    @Flag(help: "Start even when the cluster is not healthy (a node offline or in standby, failed actions, no quorum).")
    package var force = false

    @Option(help: ArgumentHelp("An executable run on each node instead of COMMAND, with the node's name as its argument.", valueName: "file"))
    package var hook: String?

    @Option(help: ArgumentHelp("A URL fetched on each node (curl -fsk) until it answers, before the next node goes.", valueName: "url"))
    package var healthURL: String?

    @Option(help: ArgumentHelp("How long the cluster may take to settle after each standby and unstandby.", valueName: "seconds"))
    package var settleTimeout = 120

    @Option(help: ArgumentHelp("How long the command may run on one node.", valueName: "seconds"))
    package var commandTimeout = 1800

    @Argument(parsing: .captureForPassthrough, help: "The command to run on each node, after --.")
    package var command: [String] = []

    package init() {}

    package func validate() throws {
        guard eachNode else { throw ValidationError("give --each-node: the upgrade runs on one node after another") }
        if hook != nil && !argv.isEmpty { throw ValidationError("give either --hook FILE or a command after --, not both") }
        if hook == nil && argv.isEmpty { throw ValidationError("give the command to run on each node after --, or --hook FILE") }
        if settleTimeout < 1 || commandTimeout < 1 { throw ValidationError("timeouts must be at least 1 second") }
    }

    /// Throws unless the hook (if any) is an executable regular file here.
    package func checkHook() throws {
        guard let hook else { return }
        var info = stat()
        guard lstat(hook, &info) == 0 else { throw OperationError("the hook \(hook) does not exist; nothing was changed") }
        guard info.st_mode & S_IFMT == S_IFREG, access(hook, X_OK) == 0 else {
            throw OperationError("the hook \(hook) is not an executable file; nothing was changed")
        }
    }

    var argv: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    /// The command for one node (the hook gets the node's name).
    package func action() -> [String] {
        if let hook { return [URL(fileURLWithPath: hook).standardizedFileURL.path] }
        return argv
    }

    package func options() -> RollingUpgrade.Options {
        var options = RollingUpgrade.Options()
        options.order = order.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        options.resume = resume
        options.force = force
        options.healthURL = healthURL
        options.settleTimeout = .seconds(settleTimeout)
        options.commandTimeout = .seconds(commandTimeout)
        options.appendNodeName = hook != nil
        return options
    }
}

extension RollingUpgrade.NodeReport {
    var json: JSONValue {
        ["node": .string(node), "seconds": .seconds(seconds), "movedAway": .array(movedAway.map(\.json))]
    }
}

/// Prints a finished rolling upgrade.
package func printUpgrade(_ reports: [RollingUpgrade.NodeReport], _ format: OutputFormat) {
    switch format {
    case .json: print(JSONValue.object(["nodes": .array(reports.map(\.json))]).line)
    case .text: print("upgraded \(reports.map(\.node).joined(separator: ", ")); every node back in service")
    }
}

/// `khactl upgrade --each-node -- COMMAND`: a rolling operation over the controllers.
package struct UpgradeCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Run a command on every controller in turn, each in standby meanwhile (e.g. kubeadm upgrade node).",
        discussion: """
            For each node: standby and wait until its resources have moved; run the command on it (here when it is \
            this host, otherwise through `ssh -o BatchMode=yes NODE`); unstandby and wait until its clone \
            instances run again and --health-url answers; next. Never more than one node out: the run records itself \
            in the CIB (property set khactl-upgrade), which also locks out a second run. It stops at the first \
            failure with that node in standby and the cluster serving; --resume goes on from there.
            """)

    @OptionGroup package var upgrade: UpgradeArguments
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let operations = ClusterOperations()
        let runner = SubprocessRunner()
        try await reportingErrors {
            try upgrade.checkHook()
            let local = try await operations.checked(Command("crm_node", ["--name"])).standardOutput
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let rolling = RollingUpgrade(operations: operations, route: LocalOrSSHRoute(localNode: local), runner: runner)
            let json = global.output == .json
            let reports = try await rolling.run(upgrade.action(), options: upgrade.options()) { line in
                if !json { print(line) }
            }
            printUpgrade(reports, global.output)
        }
    }
}
