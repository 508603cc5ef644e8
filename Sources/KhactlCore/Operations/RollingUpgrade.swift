import ClusterExec
import Foundation
import Pacemaker
#if canImport(FoundationXML)
import FoundationXML
#endif

/// How a rolling operation reaches a node to run its command there.
package protocol NodeRoute: Sendable {
    /// The command that runs `argv` on `node`.
    func command(_ argv: [String], on node: String, timeout: Duration) throws -> Command
}

/// khactl's route to real hosts: the node this runs on runs the command itself; any other node through
/// `ssh -o BatchMode=yes NODE` (keys set up beforehand, as for any fleet tool), with each word quoted for the
/// remote shell.
package struct LocalOrSSHRoute: NodeRoute {
    /// This host's node name (`crm_node --name`).
    package let localNode: String

    /// Creates the route.
    package init(localNode: String) { self.localNode = localNode }

    package func command(_ argv: [String], on node: String, timeout: Duration) throws -> Command {
        if node == localNode { return Command(argv[0], Array(argv.dropFirst()), timeout: timeout) }
        return Command(
            "ssh", ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", node, "--", ShellQuoting.line(argv)],
            timeout: timeout)
    }
}

/// A rolling operation over the controllers, one at a time: standby, wait until its resources have moved, run
/// the command on the node, take it out of standby, wait until its resources run there again (and its health
/// check passes), next node.
///
/// A run records itself in the CIB, in the property set `khactl-upgrade` made with `cibadmin --create` (which
/// fails when the set exists): that is the cluster-wide lock, so two runs never take two nodes out at once, and
/// the record of the nodes done and of the node a failure stopped at, which `--resume` reads.
package struct RollingUpgrade: Sendable {
    /// The id of the property set that records a run.
    package static let recordSetID = ClusterStateObjects.upgradeRecordSetID

    /// What a run does and how it may go.
    package struct Options: Sendable {
        /// The nodes, in order (default: every node, by name).
        package var order: [String]?
        /// Go on with a run that stopped (the record in the CIB says which nodes are done).
        package var resume = false
        /// Start even when the cluster is not healthy.
        package var force = false
        /// How long the cluster may take to settle after each standby and unstandby.
        package var settleTimeout: Duration = .seconds(120)
        /// How long the command may run on one node.
        package var commandTimeout: Duration = .seconds(1800)
        /// A URL fetched on the node (`curl -fsk`) until it answers, before the next node goes.
        package var healthURL: String?
        /// Give the command the node's name as its last argument (hooks).
        package var appendNodeName = false

        /// Default options.
        package init() {}
    }

    /// One node's part of a run.
    package struct NodeReport: Hashable, Sendable {
        /// The node.
        package let node: String
        /// What moved when it went to standby.
        package let movedAway: [Movement]
        /// Seconds from standby until it was back and healthy.
        package let seconds: Double
    }

    let operations: ClusterOperations
    let route: any NodeRoute
    let runner: any CommandRunner

    /// A rolling operation through `operations` (the cluster) and `route` (the nodes), running node commands with
    /// `runner`.
    package init(operations: ClusterOperations, route: any NodeRoute, runner: any CommandRunner = SubprocessRunner()) {
        self.operations = operations
        self.route = route
        self.runner = runner
    }

    /// Runs `argv` on every node in turn. Throws ``OperationError`` before changing anything on bad input or an
    /// unhealthy cluster, and after a failure with the node left in standby and what to run next.
    package func run(_ argv: [String], options: Options, progress: @Sendable (String) -> Void) async throws -> [NodeReport] {
        guard let program = argv.first, !program.isEmpty else { throw OperationError("give the command to run on each node after --") }
        let status = try await operations.status()
        let configuration = try await operations.configuration()
        let names = status.nodes.map(\.name)
        let order = options.order ?? names.sorted()
        for node in order where !names.contains(node) {
            throw OperationError("node '\(node)' of --order is not in the cluster (its nodes: \(names.joined(separator: ", "))); nothing was changed")
        }
        if Set(order).count != order.count { throw OperationError("--order names a node twice; nothing was changed") }

        var done: [String] = []
        var current: String?
        switch (configuration.upgradeRecord, options.resume) {
        case (let record?, false):
            throw OperationError(
                "a rolling upgrade is already running or stopped (\(RollingUpgrade.describe(record))); "
                    + "`khactl upgrade --each-node --resume -- COMMAND` finishes it; nothing was changed")
        case (nil, true):
            throw OperationError("there is no stopped rolling upgrade to resume (no '\(RollingUpgrade.recordSetID)' set in the CIB); nothing was changed")
        case (let record?, true):
            done = (record["khactl-upgrade-done"] ?? "").split(separator: ",").map(String.init)
            current = record["khactl-upgrade-current"].flatMap { $0.isEmpty ? nil : $0 }
        case (nil, false):
            break
        }

        let problems = RollingUpgrade.healthProblems(status, allowingStandby: current)
        if !problems.isEmpty && !options.force {
            throw OperationError(
                "the cluster is not healthy: \(problems.joined(separator: "; ")); nothing was changed (--force starts anyway)")
        }
        if options.resume {
            try await record("khactl-upgrade-failure", "")
        } else {
            try await createRecord(command: argv)
        }
        progress("rolling over \(order.filter { !done.contains($0) }.joined(separator: ", "))" + (done.isEmpty ? "" : " (done before: \(done.joined(separator: ", ")))"))

        var reports: [NodeReport] = []
        for node in order where !done.contains(node) {
            let started = ContinuousClock.now
            try await record("khactl-upgrade-current", node)
            let before = try await operations.status()
            try await operations.setStandby(node, true)
            try await operations.settle(timeout: options.settleTimeout)
            let away = try await operations.status()
            let left = away.resources(on: node)
            guard left.isEmpty else {
                throw await stopped(at: node, done: done, argv: argv, why: "\(left.joined(separator: ", ")) still run on \(node) in standby")
            }
            let moved = Movement.between(before, away)
            progress("\(node): standby; " + (moved.isEmpty ? "nothing moved" : moved.map(\.text).joined(separator: "; ")))

            let command = try route.command(options.appendNodeName ? argv + [node] : argv, on: node, timeout: options.commandTimeout)
            progress("\(node): running \(command)")
            let output: CommandOutput
            do {
                output = try await runner.run(command)
            } catch {
                throw await stopped(at: node, done: done, argv: argv, why: "the command did not finish: \(error)")
            }
            guard output.succeeded else {
                let tail = (output.standardError + output.standardOutput).trimmingCharacters(in: .whitespacesAndNewlines).suffix(400)
                throw await stopped(at: node, done: done, argv: argv, why: "the command exited \(output.status) on \(node): \(tail)")
            }

            try await operations.setStandby(node, false)
            try await operations.settle(timeout: options.settleTimeout)
            // Its clone instances run there again (what ran on several nodes before the standby).
            let shared = before.placements.filter { $0.value.count > 1 && $0.value.contains(node) }.map(\.key)
            try await waitUntil(options.settleTimeout, what: "\(shared.joined(separator: ", ")) to run on \(node) again") {
                let now = try await operations.status()
                return shared.allSatisfy { now.placement(of: $0).contains(node) }
            }
            if let url = options.healthURL {
                let check = try route.command(["curl", "-fsk", "--max-time", "2", "-o", "/dev/null", url], on: node, timeout: .seconds(10))
                try await waitUntil(options.settleTimeout, what: "\(url) to answer on \(node)") {
                    (try? await runner.run(check))?.succeeded == true
                }
            }
            done.append(node)
            try await record("khactl-upgrade-done", done.joined(separator: ","))
            try await record("khactl-upgrade-current", "")
            let seconds = (ContinuousClock.now - started).seconds
            progress("\(node): done in \(String(format: "%.1f", seconds)) s, back in service")
            reports.append(NodeReport(node: node, movedAway: moved, seconds: seconds))
        }
        try await operations.checked(
            Command("cibadmin", ["--delete", "--scope", "crm_config", "--xml-text", "<cluster_property_set id=\"\(RollingUpgrade.recordSetID)\"/>"]))
        return reports
    }

    /// What keeps a rolling upgrade from starting: nodes offline, in standby or maintenance, no quorum, failed
    /// actions, maintenance-mode.
    static func healthProblems(_ status: ClusterStatus, allowingStandby node: String?) -> [String] {
        var problems: [String] = []
        if !status.quorate { problems.append("the partition has no quorum") }
        if status.maintenanceMode { problems.append("maintenance-mode is on") }
        let offline = status.nodes.filter { !$0.online }.map(\.name)
        if !offline.isEmpty { problems.append("offline: \(offline.joined(separator: ", "))") }
        let standby = status.nodes.filter { $0.standby && $0.name != node }.map(\.name)
        if !standby.isEmpty { problems.append("in standby: \(standby.joined(separator: ", "))") }
        let maintenance = status.nodes.filter(\.maintenance).map(\.name)
        if !maintenance.isEmpty { problems.append("in maintenance: \(maintenance.joined(separator: ", "))") }
        if !status.failedActions.isEmpty {
            problems.append(
                "failed actions: " + status.failedActions.map { "\($0.resource) \($0.operation) on \($0.node)" }.joined(separator: ", ")
                    + " (`khactl resource cleanup` clears them)")
        }
        return problems
    }

    static func describe(_ record: [String: String]) -> String {
        var parts = ["command: \(record["khactl-upgrade-command"] ?? "?")"]
        let done = record["khactl-upgrade-done"] ?? ""
        parts.append("done: \(done.isEmpty ? "none" : done)")
        if let current = record["khactl-upgrade-current"], !current.isEmpty { parts.append("at: \(current)") }
        if let failure = record["khactl-upgrade-failure"], !failure.isEmpty { parts.append("stopped: \(failure)") }
        return parts.joined(separator: "; ")
    }

    private func createRecord(command argv: [String]) async throws {
        let display = ShellQuoting.line(argv)
        let set = XMLElement(name: "cluster_property_set")
        set.addAttribute(XMLNode.attribute(withName: "id", stringValue: RollingUpgrade.recordSetID) as! XMLNode)
        for (name, value) in [("khactl-upgrade-command", display), ("khactl-upgrade-done", ""), ("khactl-upgrade-current", "")] {
            let pair = XMLElement(name: "nvpair")
            for (key, text) in [("id", name), ("name", name), ("value", value)] {
                pair.addAttribute(XMLNode.attribute(withName: key, stringValue: text) as! XMLNode)
            }
            set.addChild(pair)
        }
        let output = try await operations.runner.run(
            Command("cibadmin", ["--create", "--scope", "crm_config", "--xml-text", set.xmlString]))
        guard output.succeeded else {
            if output.standardError.contains("File exists") || output.standardOutput.contains("File exists") {
                throw OperationError("another rolling upgrade started at the same time (the CIB has its record); nothing was changed")
            }
            throw OperationError("cannot record the rolling upgrade in the CIB (`\(ShellQuoting.line(["cibadmin", "--create", "--scope", "crm_config", "--xml-text", set.xmlString]))`): \(output.standardError.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    private func record(_ name: String, _ value: String) async throws {
        try await operations.checked(
            Command("crm_attribute", ["--type", "crm_config", "--set-name", RollingUpgrade.recordSetID, "--name", name, "--update", value]))
    }

    private func stopped(at node: String, done: [String], argv: [String], why: String) async -> OperationError {
        let command = ShellQuoting.line(argv)
        // The record keeps the failure for --resume and for people reading the CIB.
        try? await record("khactl-upgrade-failure", String(why.prefix(200)).replacingOccurrences(of: "\n", with: " "))
        return OperationError(
            "the rolling upgrade stopped at \(node): \(why). \(node) stays in standby and the other nodes serve"
                + (done.isEmpty ? "" : " (done: \(done.joined(separator: ", ")))")
                + ". Fix \(node), then `khactl upgrade --each-node --resume -- \(command)` goes on from \(node)")
    }

    private func waitUntil(_ timeout: Duration, what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw OperationError("timed out after \(timeout) waiting for \(what)")
    }
}
