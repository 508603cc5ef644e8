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

/// One loop as the poll thread sees it: its fd, one dispatch, and its end.
protocol PolledHandle: AnyObject, Sendable {
    /// The handle's fd.
    var fd: Int32 { get }
    /// Whether the owner asked for the handle to close.
    var isClosing: Bool { get }
    /// Dispatches what is ready; false when the handle failed and must be torn down.
    func dispatchReady() -> Bool
    /// Finalizes the handle and ends its stream, on the poll thread.
    func tearDown()
    /// Marks the handle failed with `error`; the thread then tears it down.
    func fail(_ error: CorosyncError)
}

/// A thread that sleeps in poll(2) on the fds of one or more corosync handles and dispatches each handle that
/// has something to read, as corosync's own C clients do in one loop. It runs while it has handles, and
/// starts again when a handle is added after that.
///
/// A thread rather than a Dispatch read source: on Linux a read source wakes Dispatch's event thread, which
/// then wakes a worker to run the handler, and under load that second wake cost `khactl watch` 2-20 ms per
/// event against a C watcher (Scripts/bench.sh). Here the thread that poll(2) wakes runs the callbacks itself.
final class PollThread: Sendable {
    private struct State {
        var handles: [ObjectIdentifier: any PolledHandle] = [:]
        var running = false
    }

    private let name: String
    private let state = Mutex(State())
    /// The wake-up pipe (read end, write end), non-blocking: a handle asking to close writes a byte, the
    /// thread's poll(2) returns. Closed when the last reference goes, after the thread has ended.
    private let wakeUp: (read: Int32, write: Int32)
    /// The running thread's pthread_t, 0 while none runs: a handle closed from one of its own callbacks
    /// must not wait for the thread it is on.
    private let current = Atomic<UInt>(0)

    init(name: String) {
        self.name = name
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "\(name): pipe failed: errno \(errno)")
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        wakeUp = (ends[0], ends[1])
    }

    deinit {
        Glibc.close(wakeUp.read)
        Glibc.close(wakeUp.write)
    }

    /// Whether the caller runs on this thread (in a handle's callback).
    var isCurrent: Bool {
        let value = current.load(ordering: .acquiring)
        return value != 0 && pthread_equal(pthread_t(value), pthread_self()) != 0
    }

    /// Starts polling `handle`'s fd, starting the thread if it is not running.
    func add(_ handle: any PolledHandle) {
        let start = state.withLock { state -> Bool in
            state.handles[ObjectIdentifier(handle)] = handle
            defer { state.running = true }
            return !state.running
        }
        if start {
            // Captures self strongly on purpose: the thread owns the pipe it polls until it ends.
            let thread = Thread { self.run() }
            thread.start()
        } else {
            wake()
        }
    }

    /// Makes the thread look at its handles again (one was added, or is closing).
    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeUp.write, &byte, 1)  // EAGAIN: bytes are pending already, which wakes it as well.
    }

    private func run() {
        nameCurrentThread(name)
        current.store(UInt(pthread_self()), ordering: .releasing)
        var fds: [pollfd] = []
        while true {
            let handles = state.withLock { state -> [any PolledHandle] in
                if state.handles.isEmpty {
                    state.running = false
                    current.store(0, ordering: .releasing)
                }
                return Array(state.handles.values)
            }
            if handles.isEmpty { return }
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeUp.read, events: Int16(POLLIN), revents: 0))
            for handle in handles { fds.append(pollfd(fd: handle.fd, events: Int16(POLLIN), revents: 0)) }
            // A handle that asks to close sets its flag before it writes to the pipe, and the pipe is drained
            // before the flags are read: no request is missed.
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                let code = errno
                if code == EINTR { continue }
                let error = CorosyncError(code: Int32(bitPattern: CS_ERR_LIBRARY.rawValue), operation: "\(name) poll (errno \(code))")
                for handle in handles { handle.fail(error) }
            }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(wakeUp.read, &drain, drain.count) > 0 {}
            }
            for (index, handle) in handles.enumerated() {
                let ended: Bool
                if handle.isClosing {
                    ended = true
                } else if fds[index + 1].revents != 0 {
                    ended = !handle.dispatchReady()
                } else {
                    ended = false
                }
                guard ended else { continue }
                handle.tearDown()
                state.withLock { _ = $0.handles.removeValue(forKey: ObjectIdentifier(handle)) }
            }
        }
    }
}

/// Names the calling thread as `ps` and `perf` show it (the kernel keeps 15 bytes). A name set on a Thread
/// before start() does not reach the kernel on Linux, and pthread_setname_np is not in Swift's Glibc module;
/// the thread's own comm file is the same call.
private func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    Glibc.close(fd)
}

/// Drives one corosync handle on a ``PollThread`` (its own, or one shared with other handles): the thread
/// dispatches with `CS_DISPATCH_ALL` through the loop's private serial queue (which also serialises every other
/// call on the handle), and the loop owns the one teardown path: wake the thread -> finalize the handle ->
/// finish the stream -> release the callback context.
final class DispatchLoop<Event: Sendable>: PolledHandle {
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
    private let thread: PollThread
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)
    private let name: String
    private struct Started: Sendable {
        let fd: Int32
        let dispatch: @Sendable () -> cs_error_t
        let finalize: @Sendable () -> Void
        let contextAddress: UInt?
    }
    /// Set once by ``start(fd:dispatch:finalize:context:)``, before the poll thread knows the loop.
    private let started = Mutex<Started?>(nil)

    /// Creates the stream and the sink; the caller initialises its handle with `sink.retainedContext()`
    /// and then calls ``start(fd:dispatch:finalize:context:)``.
    /// With a `handler`, events go to it on the poll thread (serialised by the loop's queue) and the stream
    /// carries only the loop's end. Without a `thread`, the loop gets a poll thread of its own.
    init(
        name: String, buffering: AsyncThrowingStream<Event, any Error>.Continuation.BufferingPolicy,
        handler: (@Sendable (Event) -> Void)? = nil, thread: PollThread? = nil
    ) {
        let (stream, continuation) = AsyncThrowingStream<Event, any Error>.makeStream(bufferingPolicy: buffering)
        self.stream = stream
        self.sink = EventSink(continuation, handler: handler)
        self.name = name
        self.thread = thread ?? PollThread(name: "corosync.\(name)")
        self.queue = DispatchQueue(label: "khactl.corosync.\(name)")
        queue.setSpecific(key: onQueueKey, value: true)
    }

    var contextSink: EventSink<Event> { sink }

    /// Starts dispatching `fd` on the poll thread. `dispatch` and `finalize` are only ever called on the
    /// loop's queue.
    func start(
        fd: Int32,
        dispatch: @escaping @Sendable () -> cs_error_t,
        finalize: @escaping @Sendable () -> Void,
        context: UnsafeMutableRawPointer?
    ) {
        // The context pointer crosses to the thread as an address; only tearDown() releases it.
        let contextAddress = context.map { UInt(bitPattern: $0) }
        started.withLock { $0 = Started(fd: fd, dispatch: dispatch, finalize: finalize, contextAddress: contextAddress) }
        // A consumer that stops iterating ends the handle too; later calls then throw instead of trapping.
        sink.continuation.onTermination = { [weak self] _ in
            self?.beginTeardown(failure: .badHandle.during("\(self?.name ?? "corosync"): event stream ended"), byOwner: false)
        }
        // The poll thread holds the loop strongly until it has torn it down.
        thread.add(self)
    }

    var fd: Int32 { started.withLock { $0?.fd ?? -1 } }

    var isClosing: Bool { state.withLock { $0.phase == .closing } }

    func dispatchReady() -> Bool {
        guard let dispatch = started.withLock({ $0?.dispatch }) else { return false }
        let result = queue.sync { dispatch() }
        if result != CS_OK && result != CS_ERR_TRY_AGAIN {
            fail(CorosyncError(code: Int32(bitPattern: result.rawValue), operation: "\(name) dispatch"))
            return false
        }
        return true
    }

    func tearDown() {
        guard let started = started.withLock({ $0 }) else { return }
        queue.sync {
            started.finalize()
            let failure = state.withLock { state -> CorosyncError? in
                state.phase = .closed
                return state.closedByOwner ? nil : state.failure
            }
            if let failure {
                sink.continuation.finish(throwing: failure)
            } else {
                sink.continuation.finish()
            }
            if let address = started.contextAddress, let context = UnsafeMutableRawPointer(bitPattern: address) {
                sink.releaseContext(context)
            }
        }
        finished.signal()
    }

    func fail(_ error: CorosyncError) {
        beginTeardown(failure: error, byOwner: false)
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

    /// Closes the handle and waits until it is finalized, unless called from the poll thread (a callback of
    /// this handle or of another on the same thread): the thread finalizes it once that callback returns.
    func close() {
        let first = beginTeardown(failure: nil, byOwner: true)
        if DispatchQueue.getSpecific(key: onQueueKey) == true || thread.isCurrent { return }
        if first || state.withLock({ $0.phase != .closed }) {
            finished.wait()
            finished.signal()  // Let any other waiter through as well.
        }
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
        if first { thread.wake() }
        return first
    }
}
