import Foundation
import Synchronization

/// A sink that takes events without waiting and delivers them from a bounded queue of its own, so that a
/// slow or failing receiver never holds up event intake or the other sinks.
package protocol QueuedSink: Sendable {
    /// The sink as the user named it, for logs and the summary (`webhook:http://...`, `exec:/path`).
    var name: String { get }

    /// Queues `record`; never waits. When the queue is full the oldest queued item is dropped and counted.
    func deliver(_ record: WatchRecord)

    /// Stops taking events, delivers what is queued for at most `grace`, abandons the rest, and returns the
    /// counts.
    func finish(within grace: Duration) async -> SinkSummary
}

/// What a queued sink did with what it was given.
///
/// `received = delivered + failed + dropped + abandoned`: every item ends in exactly one of those.
package struct SinkSummary: Hashable, Sendable {
    /// Items queued (an event, or for alert agents one alert of an event).
    package var received = 0
    /// Items the receiver took (a 2xx answer; an agent that exited 0).
    package var delivered = 0
    /// Items given up on after their attempts, or refused by the receiver.
    package var failed = 0
    /// Items pushed out of the full queue by newer ones.
    package var dropped = 0
    /// Items still queued or in flight when the shutdown grace ran out.
    package var abandoned = 0
    /// Extra attempts made after failed ones.
    package var retries = 0

    /// Creates an empty summary.
    package init() {}

    /// One line for stderr: `sink NAME: received=... delivered=... failed=... dropped=... abandoned=... retries=...`.
    package func line(for name: String) -> String {
        "sink \(name): received=\(received) delivered=\(delivered) failed=\(failed) dropped=\(dropped) "
            + "abandoned=\(abandoned) retries=\(retries)"
    }
}

/// The bounded queue and counters every queued sink shares: an `AsyncStream` that keeps the newest
/// `capacity` items (so under overload the freshest state of the cluster gets through), one worker task
/// that drains it, and one lock over all counters so a summary is always consistent.
final class SinkQueue<Item: Sendable>: Sendable {
    private let continuation: AsyncStream<Item>.Continuation
    private let stream: AsyncStream<Item>
    private let counts = Mutex(SinkSummary())
    private let worker = Mutex<Task<Void, Never>?>(nil)
    private let workerDone = Mutex(false)
    /// Called on the 1st, 2nd, 4th, 8th, ... drop, so that overload cannot flood the log.
    private let onDrop: @Sendable (_ dropped: Int) -> Void

    init(capacity: Int, onDrop: @escaping @Sendable (_ dropped: Int) -> Void) {
        precondition(capacity >= 1, "a sink queue holds at least one item")
        (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(capacity))
        self.onDrop = onDrop
    }

    /// Starts the one worker; `handle` delivers one item and returns how it ended.
    func start(_ handle: @escaping @Sendable (Item) async -> Outcome) {
        let stream = self.stream
        let task = Task {
            for await item in stream {
                if Task.isCancelled { break }
                let outcome = await handle(item)
                counts.withLock { counts in
                    counts.retries += outcome.retries
                    switch outcome.result {
                    case .delivered: counts.delivered += 1
                    case .failed: counts.failed += 1
                    case .abandoned: break  // counted as received - the rest at the end
                    }
                }
                if case .abandoned = outcome.result { break }
            }
            workerDone.withLock { $0 = true }
        }
        worker.withLock { $0 = task }
    }

    /// How the delivery of one item ended.
    struct Outcome: Sendable {
        enum Result: Sendable { case delivered, failed, abandoned }
        var result: Result
        var retries: Int
    }

    /// Queues `item` without waiting.
    func enqueue(_ item: Item) {
        let dropped: Int? = counts.withLock { counts in
            counts.received += 1
            // The yield happens under the lock so `received` and `dropped` move together.
            guard case .dropped = continuation.yield(item) else { return nil }
            counts.dropped += 1
            return counts.dropped
        }
        if let dropped, dropped & (dropped - 1) == 0 { onDrop(dropped) }
    }

    /// Closes the queue, waits up to `grace` for the worker to deliver what is left, then cancels it.
    func finish(within grace: Duration) async -> SinkSummary {
        continuation.finish()
        let deadline = ContinuousClock.now + grace
        // Polled rather than awaited: a worker blocked in a call that cannot be cancelled (an alert agent
        // that runs on, a name lookup) must not hold up the shutdown.
        while !workerDone.withLock({ $0 }) && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if !workerDone.withLock({ $0 }) {
            worker.withLock { $0?.cancel() }
            // A cancelled worker stops within a moment unless it is blocked; the summary does not wait longer.
            let settle = ContinuousClock.now + .milliseconds(200)
            while !workerDone.withLock({ $0 }) && ContinuousClock.now < settle && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        return counts.withLock { counts in
            var summary = counts
            summary.abandoned = summary.received - summary.delivered - summary.failed - summary.dropped
            return summary
        }
    }

    /// The counts so far (abandoned is 0 until ``finish(within:)``).
    var summary: SinkSummary { counts.withLock { $0 } }
}

