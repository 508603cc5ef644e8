internal import CCorosync
import Foundation

/// How often and how long ``retrying(_:_:)`` waits on `CS_ERR_TRY_AGAIN`, as corosync's own tools do
/// (corosync-cmapctl and corosync-cpgtool retry with a short sleep until the daemon has synchronised).
enum TryAgainPolicy {
    static let attempts = 50
    static let pause: useconds_t = 20_000  // 20 ms: 50 attempts bound the wait to about one second.
}

/// Turns a corosync return code into a thrown ``CorosyncError`` naming the operation.
@inline(__always)
func check(_ result: cs_error_t, _ operation: @autoclosure () -> String) throws(CorosyncError) {
    if result != CS_OK {
        throw CorosyncError(code: Int32(bitPattern: result.rawValue), operation: operation())
    }
}

/// Calls `body` until it returns something other than `CS_ERR_TRY_AGAIN`, a bounded number of times,
/// then checks the result.
func retrying(_ operation: @autoclosure () -> String, _ body: () -> cs_error_t) throws(CorosyncError) {
    var result = body()
    var attempt = 1
    while result == CS_ERR_TRY_AGAIN && attempt < TryAgainPolicy.attempts {
        usleep(TryAgainPolicy.pause)
        result = body()
        attempt += 1
    }
    try check(result, operation())
}
