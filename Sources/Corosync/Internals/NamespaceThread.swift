internal import CCorosync
import Foundation

/// Runs `body` in the network namespace of `endpoint`.
///
/// `setns(CLONE_NEWNET)` changes only the calling thread's namespace, so a short-lived thread of its own
/// enters the namespace, creates the connection (the sockets stay bound to that namespace) and exits;
/// no thread of the Swift concurrency pool ever changes namespace.
func withEndpoint<T: Sendable>(
    _ endpoint: CorosyncEndpoint,
    _ body: @escaping @Sendable () throws -> T
) throws -> T {
    guard let path = endpoint.networkNamespace else { return try body() }
    let box = ResultBox<T>()
    let thread = Thread {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            box.result = .failure(NamespaceError(path: path, errno: errno, step: "open"))
            box.done.signal()
            return
        }
        let entered = khactl_setns_net(fd)
        let setnsErrno = errno
        close(fd)
        if entered != 0 {
            box.result = .failure(NamespaceError(path: path, errno: setnsErrno, step: "setns"))
        } else {
            box.result = Result { try body() }
        }
        box.done.signal()
    }
    thread.start()
    box.done.wait()
    return try box.result!.get()
}

/// Carries a result from the namespace thread back to the caller.
// @unchecked Sendable: `result` is written by the namespace thread strictly before `done.signal()`
// and read by the caller strictly after `done.wait()`; the semaphore orders the two.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
    let done = DispatchSemaphore(value: 0)
}
