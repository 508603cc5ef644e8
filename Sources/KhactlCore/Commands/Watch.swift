import ArgumentParser
import Corosync
import Foundation

/// `khactl watch`: membership, quorum and CPG events as they happen.
public struct Watch: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Stream membership, quorum and CPG events.",
        discussion: """
            Prints the current quorum state first, then every change. With --output json each event is one
            JSON object per line with time (RFC 3339, milliseconds), kind (membership, quorum, cpg,
            connection), node (the local node id) and the event's fields.
            """
    )

    @OptionGroup public var global: GlobalOptions

    @Option(help: "Exit after this many events.")
    public var count: Int?

    @Flag(help: "When corosync goes away, report it and reconnect with backoff instead of exiting.")
    public var reconnect = false

    @Option(help: "The CPG group the watchers join.")
    public var group = "khactl-watch"

    @Option(
        name: .customLong("sink"),
        help: ArgumentHelp(
            "Where events go: stdout (the default), or exec:PATH to run a Pacemaker alert agent with the CRM_alert_* environment. Repeatable.",
            valueName: "sink"))
    public var sinks: [String] = []

    @Flag(help: "With a watcher on every node, only the leader (lowest node id in the watchers' CPG group) emits, so each event arrives once per cluster.")
    public var leaderOnly = false

    @Option(help: "CRM_alert_recipient for exec: sinks (for alert_file.sh.sample: the file to append to).")
    public var recipient = ""

    @Flag(help: "Receive Pacemaker's alerts (`khactl alert install`) and share them with the other watchers.")
    public var alerts = false

    @Option(help: ArgumentHelp("The socket alerts arrive on, with --alerts.", valueName: "path"))
    public var alertSocket = PacemakerAlert.defaultSocket

    public init() {}

    public func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        for sink in sinks {
            if sink == "stdout" { continue }
            guard sink.hasPrefix("exec:") else {
                throw ValidationError("unknown sink \"\(sink)\": use stdout or exec:PATH")
            }
            let path = String(sink.dropFirst(5))
            guard path.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: path) else {
                throw ValidationError("exec: sink \(path) is not an executable file given by its absolute path")
            }
        }
        do { _ = try CPGGroupName(group) } catch { throw ValidationError(String(describing: error)) }
    }

    public func run() async throws {
        let source = ClusterEventSource(
            endpoint: global.endpoint.endpoint, group: try CPGGroupName(group), reconnect: reconnect,
            alertSocket: alerts ? alertSocket : nil)
        let events: AsyncThrowingStream<(node: NodeID, event: ClusterEvent), any Error>
        do {
            events = try source.events()
        } catch {
            throw CLIError(String(describing: error))
        }
        let toStdout = sinks.isEmpty || sinks.contains("stdout")
        let agents = sinks.filter { $0.hasPrefix("exec:") }.map { AlertAgentSink(path: String($0.dropFirst(5)), recipient: recipient) }
        var names: [NodeID: String] = [:]
        if !agents.isEmpty, let cmap = try? CMap(endpoint: global.endpoint.endpoint) {
            for node in (try? cmap.nodeList()) ?? [] { names[node.nodeID] = node.name }
            cmap.close()
        }
        var seen = 0
        var failure: (any Error)?
        var filter: LeaderFilter?
        do {
            events: for try await (node, incoming) in events {
                let admitted: [ClusterEvent]
                if leaderOnly {
                    var current = filter ?? LeaderFilter(me: CPGMember(nodeID: node, pid: UInt32(getpid())))
                    admitted = current.admit(incoming)
                    filter = current
                } else {
                    admitted = [incoming]
                }
                for event in admitted {
                    for agent in agents { agent.deliver(event, names: names) }
                    if toStdout { emit(event, node: node) }
                    seen += 1
                    if let count, seen >= count { break events }
                }
            }
        } catch {
            failure = error
        }
        // Let the alert agents run what was queued before exiting.
        for agent in agents { await agent.finish() }
        if let failure { throw CLIError("watch ended: \(failure)") }
    }

    private func emit(_ event: ClusterEvent, node: NodeID) {
        switch global.output {
        case .json:
            var fields = event.fields
            fields["time"] = .string(Timestamp.rfc3339())
            fields["kind"] = .string(event.kind)
            fields["node"] = .integer(Int64(node.rawValue))
            print(JSONValue.object(fields).line)
        case .text:
            print("\(Timestamp.rfc3339()) node \(node) \(event.text)")
        }
        fflush(nil)  // Each event reaches a pipe as it happens.
    }
}
