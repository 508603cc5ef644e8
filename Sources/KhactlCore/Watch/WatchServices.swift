import Corosync
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Event intake of `khactl watch`: applies the leader filter to each event, prints each admitted one on
/// stdout and hands it to the queued sinks, which never make it wait. It runs in the event source's handler,
/// on the corosync queue the event arrived on, one event at a time: no task hop between corosync and
/// stdout (measured against a C watcher by Scripts/bench.sh).
final class WatchIntake: Sendable {
    /// The stdout format, or nil when stdout is not a sink.
    let output: OutputFormat?
    let sinks: [any QueuedSink]
    let leaderOnly: Bool
    let count: Int?
    let logger: Logger

    private struct State {
        var filter: LeaderFilter?
        var seen = 0
    }

    private let state = Mutex(State())
    /// Finished once `count` events went out.
    let done: AsyncStream<Void>
    private let doneContinuation: AsyncStream<Void>.Continuation

    init(output: OutputFormat?, sinks: [any QueuedSink], leaderOnly: Bool, count: Int?, logger: Logger) {
        self.output = output
        self.sinks = sinks
        self.leaderOnly = leaderOnly
        self.count = count
        self.logger = logger
        (done, doneContinuation) = AsyncStream<Void>.makeStream()
    }

    /// Whether this watcher knows the watchers' group, as its announcements tell the others (always, without
    /// --leader-only: such a watcher emits everything anyway).
    var settled: Bool {
        guard leaderOnly else { return true }
        return state.withLock { $0.filter?.isSettled ?? false }
    }

    /// Takes one event (the event source calls it one event at a time).
    func handle(node: NodeID, event incoming: ClusterEvent) {
        state.withLock { state in
            if let count, state.seen >= count { return }
            let admitted: [ClusterEvent]
            if leaderOnly {
                var current = state.filter ?? LeaderFilter(me: CPGMember(nodeID: node, pid: UInt32(getpid())))
                let wasLeader = current.isLeader
                let wasUnverified = current.unverified
                admitted = current.admit(incoming)
                if let isLeader = current.isLeader, isLeader != wasLeader {
                    logger.info(isLeader ? "this watcher leads: it emits events" : "another watcher leads: this one stays silent")
                }
                let unverified = current.unverified
                if current.isLeader != nil, !unverified.isEmpty, unverified != wasUnverified || wasLeader == nil {
                    logger.warning(
                        "members of the watchers' group that did not prove they hold the cluster's key never lead: \(unverified.sorted { ($0.nodeID, $0.pid) < ($1.nodeID, $1.pid) }.map(\.description).joined(separator: " "))")
                }
                state.filter = current
            } else if case .watcherAnnounced = incoming {
                admitted = []
            } else {
                admitted = [incoming]
            }
            for event in admitted {
                let record = WatchRecord(event, node: node)
                if let output { print(record, as: output) }
                for sink in sinks { sink.deliver(record) }
                state.seen += 1
                if let count, state.seen >= count {
                    doneContinuation.finish()
                    return
                }
            }
        }
    }

    private func print(_ record: WatchRecord, as output: OutputFormat) {
        switch output {
        case .json:
            // Straight to the fd, one write per line: nothing else of the watcher writes to stdout.
            Self.writeAll(record.jsonLine, to: STDOUT_FILENO)
        case .text:
            Swift.print(record.text)
            fflush(nil)  // Each event reaches a pipe as it happens.
        }
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // A closed or broken stdout: the watcher goes on for its other sinks.
                }
            }
        }
    }
}

/// Runs the watcher's event source as a service: ends after `count` events, at graceful shutdown (its task
/// is cancelled, which closes the corosync handles), or by throwing when corosync goes away without
/// `--reconnect`. The events themselves go through ``WatchIntake`` in the source's handler.
struct WatchIntakeService: Service {
    typealias Events = AsyncThrowingStream<(node: NodeID, event: ClusterEvent), any Error>

    /// The source's stream, which carries only its end (the events go to `intake`).
    let events: Events
    let intake: WatchIntake
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in events {} }
                group.addTask { for await _ in intake.done {} }
                // Whichever ends first (the source, or `count` reached) ends intake.
                try await group.next()
                group.cancelAll()
            }
        }
        logger.info("event intake stopped")
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
