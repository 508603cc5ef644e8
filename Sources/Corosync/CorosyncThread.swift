/// A thread that dispatches the events of several corosync handles, as a C client does in one poll(2) loop.
///
/// By default every handle gets a thread of its own. Handles opened with the same `CorosyncThread` share one:
/// their events are delivered one at a time, in the order corosync makes them readable, and an event on any
/// of them costs one thread wake-up. A membership change reaches every service at once (CPG and quorum
/// both), so a watcher with one thread per handle had two threads to wake, and to schedule, where a C watcher
/// has one.
///
/// ```swift
/// let thread = CorosyncThread(name: "watch")
/// let cpg = try CPG(thread: thread) { event in ... }
/// let quorum = try Quorum(thread: thread) { event in ... }
/// ```
///
/// The thread runs while it has open handles. A handler that blocks holds up every handle on the thread.
public final class CorosyncThread: Sendable {
    let poll: PollThread

    /// Creates a thread; `name` (at most 15 bytes are kept) is what `ps` and `perf` show.
    public init(name: String = "corosync") {
        poll = PollThread(name: name)
    }
}
