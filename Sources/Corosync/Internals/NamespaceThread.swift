internal import CCorosync
import Foundation

/// The one way khactl enters a network namespace: `setns(CLONE_NEWNET)` changes only the calling thread's
/// namespace, so a thread of its own enters it and runs `body` there; no thread of the Swift concurrency pool
/// ever changes namespace. Sockets made by `body` stay bound to that namespace after it returns.
package enum NetworkNamespaceThread {
    /// Starts a thread named `name` in the network namespace at `path` (a /run/netns/NAME or /proc/PID/ns/net
    /// file) running `body`; returns once the thread is in the namespace, or throws why it could not enter.
    @discardableResult
    package static func start(in path: String, name: String, _ body: @escaping @Sendable () -> Void) throws(NamespaceError) -> Thread {
        let entered = EnteredBox()
        let thread = Thread {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                entered.error = NamespaceError(path: path, errno: errno, step: "open")
                entered.done.signal()
                return
            }
            let result = khactl_setns_net(fd)
            let setnsErrno = errno
            close(fd)
            if result != 0 { entered.error = NamespaceError(path: path, errno: setnsErrno, step: "setns") }
            entered.done.signal()
            if result == 0 { body() }
        }
        thread.name = name
        thread.start()
        entered.done.wait()
        if let error = entered.error { throw error }
        return thread
    }
}

/// Runs `body` in the network namespace of `endpoint`, on a short-lived thread of its own, and returns its
/// result.
func withEndpoint<T: Sendable>(
    _ endpoint: CorosyncEndpoint,
    _ body: @escaping @Sendable () throws -> T
) throws -> T {
    guard let path = endpoint.networkNamespace else { return try body() }
    let box = ResultBox<T>()
    try NetworkNamespaceThread.start(in: path, name: "khactl-netns") {
        box.result = Result { try body() }
        box.done.signal()
    }
    box.done.wait()
    return try box.result!.get()
}

/// Carries whether the thread entered its namespace back to the starter.
// @unchecked Sendable: `error` is written by the new thread strictly before `done.signal()` and read by the
// starter strictly after `done.wait()`; the semaphore orders the two.
private final class EnteredBox: @unchecked Sendable {
    var error: NamespaceError?
    let done = DispatchSemaphore(value: 0)
}

/// Carries a result from the namespace thread back to the caller.
// @unchecked Sendable: `result` is written by the namespace thread strictly before `done.signal()`
// and read by the caller strictly after `done.wait()`; the semaphore orders the two.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
    let done = DispatchSemaphore(value: 0)
}
