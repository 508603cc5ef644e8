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
    let process = Process()
    if let first = wrapper.first {
        process.executableURL = URL(fileURLWithPath: first)
        process.arguments = Array(wrapper.dropFirst()) + [khactl] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: khactl)
        process.arguments = arguments
    }
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Weak: a cancelled work item lives until its deadline, and must not keep the process and its pipes open.
    let timer = DispatchWorkItem { [weak process] in if process?.isRunning == true { process?.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
    // Read both pipes to the end before waiting, so a full pipe never blocks the child.
    let errData = Mutex2<Data>(Data())
    let errReader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    timer.cancel()
    while !errData.isSet { usleep(1_000) }
    return CommandResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData.value, as: UTF8.self))
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
