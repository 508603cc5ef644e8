import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs commands. The real one is ``SubprocessRunner``; tests of command rendering may script one.
public protocol CommandRunner: Sendable {
    /// Runs `command` to completion and returns its status and output; throws only when it cannot be
    /// started or times out. A non-zero exit is data here, not an error.
    func run(_ command: Command) async throws(CommandError) -> CommandOutput
}

extension CommandRunner {
    /// Runs `command` and throws ``CommandError`` unless it exits 0.
    @discardableResult
    public func check(_ command: Command) async throws(CommandError) -> CommandOutput {
        let output = try await run(command)
        guard output.succeeded else { throw CommandError(command: command, reason: .failed(output)) }
        return output
    }
}

/// Runs commands as subprocesses with swift-subprocess: an argument array, a clean signal mask, output
/// limits, and a timeout after which the program gets SIGTERM and, 2 s later, SIGKILL.
public struct SubprocessRunner: CommandRunner {
    /// The most output kept from each stream; a program that prints more fails the command.
    public let outputLimit: Int

    /// Variables of khactl's environment that children never inherit (a command may still set them).
    public static let scrubbedVariables = ["CIB_file", "CIB_shadow", "CIB_shadow_dir"]

    /// Creates a runner.
    public init(outputLimit: Int = 64 * 1024 * 1024) {
        self.outputLimit = outputLimit
    }

    public func run(_ command: Command) async throws(CommandError) -> CommandOutput {
        let limit = outputLimit
        let stdin = command.standardInput ?? []
        do {
            let result = try await withThrowingTaskGroup(of: ExecutionRecord?.self) { group in
                group.addTask {
                    let executable: Executable =
                        command.executable.hasPrefix("/") ? .path(FilePath(command.executable)) : .name(command.executable)
                    var updates: [Environment.Key: String?] = [:]
                    // CIB_file and CIB_shadow in khactl's own environment would silently point every pacemaker
                    // tool at another CIB: only a command that names one (--cib-file) gets it.
                    for key in SubprocessRunner.scrubbedVariables { updates[Environment.Key(stringLiteral: key)] = .some(nil) }
                    for (key, value) in command.environment { updates[Environment.Key(stringLiteral: key)] = value }
                    let environment = Environment.inherit.updating(updates)
                    var options = PlatformOptions()
                    // Cancelled at the timeout: SIGTERM, then SIGKILL 2 s later.
                    options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))]
                    if command.outputToFile {
                        let file = try OutputFile()
                        defer { file.close() }
                        let result = try await Subprocess.run(
                            executable,
                            arguments: Arguments(command.arguments),
                            environment: environment,
                            platformOptions: options,
                            input: .array(stdin),
                            output: .fileDescriptor(file.descriptor, closeAfterSpawningProcess: false),
                            error: .fileDescriptor(file.descriptor, closeAfterSpawningProcess: false)
                        )
                        return ExecutionRecord(
                            status: result.terminationStatus, standardOutput: file.tail(64 * 1024), standardError: "")
                    }
                    let result = try await Subprocess.run(
                        executable,
                        arguments: Arguments(command.arguments),
                        environment: environment,
                        platformOptions: options,
                        input: .array(stdin),
                        output: .string(limit: limit),
                        error: .string(limit: limit)
                    )
                    return ExecutionRecord(
                        status: result.terminationStatus,
                        standardOutput: result.standardOutput,
                        standardError: result.standardError)
                }
                group.addTask {
                    try await Task.sleep(for: command.timeout)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard let result else {
                throw CommandError(command: command, reason: .timedOut(command.timeout))
            }
            switch result.status {
            case .exited(let code):
                return CommandOutput(status: code, standardOutput: result.standardOutput, standardError: result.standardError)
            case .signaled(let signal):
                return CommandOutput(
                    status: 128 + signal, signaled: true, standardOutput: result.standardOutput,
                    standardError: result.standardError)
            }
        } catch let error as CommandError {
            throw error
        } catch {
            throw CommandError(command: command, reason: .launchFailed(String(describing: error)))
        }
    }
}

private struct ExecutionRecord: Sendable {
    let status: TerminationStatus
    let standardOutput: String
    let standardError: String
}

/// A command's output file (``Command/outputToFile``): created with `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600
/// under a random name in the temporary folder, and unlinked at once, so nothing else can open it by name.
private struct OutputFile {
    let descriptor: FileDescriptor

    init() throws {
        let folder = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        let path = "\(folder)/khactl-output-\(UUID().uuidString)"
        descriptor = try FileDescriptor.open(
            FilePath(path), .readWrite, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
            permissions: [.ownerReadWrite])
        _ = path.withCString { unlink($0) }
    }

    /// The last `limit` bytes written, as text.
    func tail(_ limit: Int) -> String {
        guard let size = try? descriptor.seek(offset: 0, from: .end), size > 0 else { return "" }
        let start = max(0, size - Int64(limit))
        var bytes = [UInt8](repeating: 0, count: Int(size - start))
        let count = (try? bytes.withUnsafeMutableBytes { try descriptor.read(fromAbsoluteOffset: start, into: $0) }) ?? 0
        return String(decoding: bytes.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func close() { try? descriptor.close() }
}
