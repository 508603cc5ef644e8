import Foundation

/// What a run of the built `khactl` printed and how it exited.
struct CommandResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String

    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// Runs the built `khactl` (or, with `via`, a command that wraps it, such as nsenter) and waits for it.
func runKhactl(
    _ arguments: [String], via wrapper: [String] = [], environment: [String: String] = [:], timeout: TimeInterval = 30
) throws -> CommandResult {
    let khactl = productsDirectory.appendingPathComponent("khactl").path
    let argv = wrapper + [khactl] + arguments
    return try runTool(argv[0], Array(argv.dropFirst()), environment: environment, timeout: timeout)
}

/// A value set once from another thread.
// @unchecked Sendable: guarded by the NSLock.
final class Mutex2<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    private var done = false
    init(_ value: Value) { stored = value }
    func set(_ value: Value) { lock.withLock { stored = value; done = true } }
    var isSet: Bool { lock.withLock { done } }
    var value: Value { lock.withLock { stored } }
}
