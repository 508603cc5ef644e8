import Corosync
import Foundation
import Logging
import ServiceLifecycle

/// Event intake of `khactl watch`: reads the cluster's events, applies the leader filter, prints each
/// admitted event on stdout and hands it to the queued sinks, which never make it wait.
///
/// Ends after `count` events, at graceful shutdown (its task is cancelled, which closes the corosync
/// handles), or by throwing when corosync goes away without `--reconnect`.
struct WatchIntakeService: Service {
    typealias Events = AsyncThrowingStream<(node: NodeID, event: ClusterEvent), any Error>

    let events: Events
    /// The stdout format, or nil when stdout is not a sink.
    let output: OutputFormat?
    let sinks: [any QueuedSink]
    let leaderOnly: Bool
    let count: Int?
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await intake() }
        logger.info("event intake stopped")
    }

    private func intake() async throws {
        var seen = 0
        var filter: LeaderFilter?
        for try await (node, incoming) in events {
            let admitted: [ClusterEvent]
            if leaderOnly {
                var current = filter ?? LeaderFilter(me: CPGMember(nodeID: node, pid: UInt32(getpid())))
                let wasLeader = current.isLeader
                admitted = current.admit(incoming)
                if let isLeader = current.isLeader, isLeader != wasLeader {
                    logger.info(isLeader ? "this watcher leads: it emits events" : "another watcher leads: this one stays silent")
                }
                filter = current
            } else {
                admitted = [incoming]
            }
            for event in admitted {
                let record = WatchRecord(event, node: node)
                if let output { print(record, as: output) }
                for sink in sinks { sink.deliver(record) }
                seen += 1
                if let count, seen >= count { return }
            }
        }
    }

    private func print(_ record: WatchRecord, as output: OutputFormat) {
        switch output {
        case .json: Swift.print(record.json.line)
        case .text: Swift.print(record.text)
        }
        fflush(nil)  // Each event reaches a pipe as it happens.
    }
}

/// Shuts the queued sinks down once intake has stopped: the service group signals services in reverse
/// order, and this one comes before intake in the group. Every sink gets the same `grace` at the same
/// time to deliver what is queued; then each prints its summary line on stderr.
struct SinkShutdownService: Service {
    let sinks: [any QueuedSink]
    let grace: Duration
    let logger: Logger

    func run() async throws {
        // Throws only if the group is cancelled; the sinks are shut down either way.
        try? await gracefulShutdown()
        logger.info("delivering queued events for at most \(grace.milliseconds) ms")
        let summaries = await withTaskGroup(of: (Int, SinkSummary).self) { group in
            for (index, sink) in sinks.enumerated() {
                group.addTask { (index, await sink.finish(within: grace)) }
            }
            var summaries = [SinkSummary](repeating: SinkSummary(), count: sinks.count)
            for await (index, summary) in group { summaries[index] = summary }
            return summaries
        }
        for (sink, summary) in zip(sinks, summaries) {
            // The summary is a result, not a log message: it is printed whatever the log level.
            FileHandle.standardError.write(Data("khactl watch: \(summary.line(for: sink.name))\n".utf8))
        }
    }
}
