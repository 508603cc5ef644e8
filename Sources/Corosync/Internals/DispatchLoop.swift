internal import CCorosync
import Dispatch
import Foundation
import Glibc
import Synchronization

/// Receives the events that corosync's C callbacks produce and hands them to an `AsyncThrowingStream`.
///
/// Retained once through `Unmanaged` as the handle's context pointer and released once, after the handle
/// is finalized, so a callback can never see a dangling sink.
final class EventSink<Event: Sendable>: Sendable {
    let continuation: AsyncThrowingStream<Event, any Error>.Continuation
    /// When set, receives every event on the loop's queue instead of the stream.
    let handler: (@Sendable (Event) -> Void)?

    init(_ continuation: AsyncThrowingStream<Event, any Error>.Continuation, handler: (@Sendable (Event) -> Void)?) {
        self.continuation = continuation
        self.handler = handler
    }

    func yield(_ event: Event) {
        if let handler {
            handler(event)
        } else {
            continuation.yield(event)
        }
    }

    /// The sink behind a context pointer that ``retainedContext()`` produced.
    static func from(_ context: UnsafeRawPointer?) -> EventSink? {
        guard let context else { return nil }
        // Sound: every context pointer set by this module came from retainedContext() and stays
        // retained until DispatchLoop's cancel handler has finalized the handle.
        return Unmanaged<EventSink>.fromOpaque(context).takeUnretainedValue()
    }

    func retainedContext() -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(self).toOpaque()
    }

    func releaseContext(_ context: UnsafeMutableRawPointer) {
        Unmanaged<EventSink>.fromOpaque(context).release()
    }
}

/// Drives one corosync handle: a thread of its own sleeps in poll(2) on the handle's fd and dispatches with
/// `CS_DISPATCH_ALL` through a private serial queue (which also serialises every other call on the handle),
/// and the loop owns the one teardown path: wake the thread -> finalize the handle -> finish the stream ->
/// release the callback context.
///
/// A thread rather than a Dispatch read source: on Linux a read source wakes Dispatch's event thread, which
/// then wakes a worker to run the handler, and under load that second wake cost `khactl watch` 2-20 ms per
/// event against a C watcher (Scripts/bench.sh). Here the thread that poll(2) wakes runs the callbacks
/// itself (`queue.sync` from an idle queue runs inline), as corosync's own C clients do.
final class DispatchLoop<Event: Sendable>: Sendable {
    private enum Phase {
        case open
        case closing
        case closed
    }

    private struct State {
        var phase: Phase = .open
        /// Set when the loop ended because corosync went away rather than because the owner closed it.
        var failure: CorosyncError?
        var closedByOwner = false
    }

    let stream: AsyncThrowingStream<Event, any Error>
    private let sink: EventSink<Event>
    private let queue: DispatchQueue
    private let onQueueKey = DispatchSpecificKey<Bool>()
    // The write end of the wake-up pipe: written once in start() before the thread starts and never again
    // (closed by the thread after teardown, which nothing writes to any more); write(2) is thread-safe.
    nonisolated(unsafe) private var wake: Int32 = -1
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)
    private let name: String

    /// Creates the stream and the sink; the caller initialises its handle with `sink.retainedContext()`
    /// and then calls ``start(fd:dispatch:finalize:context:)``.
    /// With a `handler`, events go to it on the loop's thread (serialised by its queue) and the stream carries
    /// only the loop's end.
    init(
        name: String, buffering: AsyncThrowingStream<Event, any Error>.Continuation.BufferingPolicy,
        handler: (@Sendable (Event) -> Void)? = nil
    ) {
        let (stream, continuation) = AsyncThrowingStream<Event, any Error>.makeStream(bufferingPolicy: buffering)
        self.stream = stream
        self.sink = EventSink(continuation, handler: handler)
        self.name = name
        self.queue = DispatchQueue(label: "khactl.corosync.\(name)")
        queue.setSpecific(key: onQueueKey, value: true)
    }

    var contextSink: EventSink<Event> { sink }

    /// Starts reading `fd`. `dispatch` and `finalize` are only ever called on the loop's queue.
    func start(
        fd: Int32,
        dispatch: @escaping @Sendable () -> cs_error_t,
        finalize: @escaping @Sendable () -> Void,
        context: UnsafeMutableRawPointer?
    ) {
        // The wake-up pipe: teardown writes a byte, the thread's poll(2) returns.
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "\(name): pipe failed: errno \(errno)")
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let wake = ends[0]
        self.wake = ends[1]
        // A consumer that stops iterating ends the handle too; later calls then throw instead of trapping.
        sink.continuation.onTermination = { [weak self] _ in
            self?.beginTeardown(failure: .badHandle.during("\(self?.name ?? "corosync"): event stream ended"), byOwner: false)
        }
        // The context pointer crosses to the thread as an address; only the teardown below releases it.
        let contextAddress = context.map { UInt(bitPattern: $0) }
        // Captures self strongly on purpose: the loop must outlive its own teardown.
        let thread = Thread {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            while true {
                if poll(&fds, 2, -1) < 0 {
                    if errno == EINTR { continue }
                    self.fail(CorosyncError(code: Int32(bitPattern: CS_ERR_LIBRARY.rawValue), operation: "\(self.name) poll"))
                    break
                }
                if fds[1].revents != 0 { break }
                guard fds[0].revents != 0 else { continue }
                let result = self.queue.sync { dispatch() }
                if result != CS_OK && result != CS_ERR_TRY_AGAIN {
                    self.fail(CorosyncError(code: Int32(bitPattern: result.rawValue), operation: "\(self.name) dispatch"))
                    break
                }
            }
            self.queue.sync {
                finalize()
                let failure = self.state.withLock { state -> CorosyncError? in
                    state.phase = .closed
                    return state.closedByOwner ? nil : state.failure
                }
                if let failure {
                    self.sink.continuation.finish(throwing: failure)
                } else {
                    self.sink.continuation.finish()
                }
                if let contextAddress, let context = UnsafeMutableRawPointer(bitPattern: contextAddress) {
                    self.sink.releaseContext(context)
                }
            }
            Glibc.close(wake)
            Glibc.close(self.wake)
            self.finished.signal()
        }
        thread.name = "corosync.\(name)"
        thread.start()
    }

    /// Runs `body` on the loop's queue, serialised with dispatch, unless the handle is gone.
    func perform<T>(_ body: () throws(CorosyncError) -> T) throws(CorosyncError) -> T {
        let result: Result<T, CorosyncError> = queue.sync {
            let (phase, failure, byOwner) = state.withLock { ($0.phase, $0.failure, $0.closedByOwner) }
            if phase != .open {
                precondition(!byOwner, "\(name) handle used after close()")
                return .failure(failure ?? .badHandle.during("\(name): handle closed"))
            }
            do throws(CorosyncError) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The error that ended the loop, if corosync went away.
    var failure: CorosyncError? { state.withLock { $0.failure } }

    /// Closes the handle and waits until it is finalized (unless called from the loop's own queue).
    func close() {
        let first = beginTeardown(failure: nil, byOwner: true)
        if DispatchQueue.getSpecific(key: onQueueKey) == true { return }
        if first || state.withLock({ $0.phase != .closed }) {
            finished.wait()
            finished.signal()  // Let any other waiter through as well.
        }
    }

    private func fail(_ error: CorosyncError) {
        beginTeardown(failure: error, byOwner: false)
    }

    @discardableResult
    private func beginTeardown(failure: CorosyncError?, byOwner: Bool) -> Bool {
        let first = state.withLock { state -> Bool in
            guard state.phase == .open else { return false }
            state.phase = .closing
            state.failure = failure
            state.closedByOwner = byOwner
            return true
        }
        if first {
            var byte: UInt8 = 1
            _ = write(wake, &byte, 1)
        }
        return first
    }
}
