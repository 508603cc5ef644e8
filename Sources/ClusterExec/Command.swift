import Pacemaker

/// A program to run: an executable and an argument array, never a shell line.
public struct Command: Hashable, Sendable, CustomStringConvertible {
    /// An absolute path, or a name looked up in `PATH`.
    public var executable: String
    /// The arguments, each passed as is.
    public var arguments: [String]
    /// Variables added to (or replacing those of) the inherited environment.
    public var environment: [String: String]
    /// Bytes written to the program's standard input, if any.
    public var standardInput: [UInt8]?
    /// How long the program may run before it is stopped (SIGTERM, then SIGKILL).
    public var timeout: Duration
    /// Standard output and error go to one unnamed temporary file rather than pipes, and the output read
    /// back is its last 64 KiB (in ``CommandOutput/standardOutput``). For commands that start daemons: a
    /// daemon that inherits a pipe keeps it open, and the command would seem to run until the daemon exits.
    public var outputToFile: Bool

    /// Creates a command.
    public init(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        standardInput: [UInt8]? = nil,
        timeout: Duration = .seconds(120),
        outputToFile: Bool = false
    ) {
        self.outputToFile = outputToFile
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.standardInput = standardInput
        self.timeout = timeout
    }

    /// The command as a shell would show it, for display only: plan output, logs, error messages.
    public var description: String {
        let variables = environment.keys.sorted().map { "\($0)=\(ShellQuoting.quote(environment[$0]!))" }
        return (variables + [executable] + arguments).map { $0.contains("=") && variables.contains($0) ? $0 : ShellQuoting.quote($0) }
            .joined(separator: " ")
    }
}

/// How a program ended and what it printed.
public struct CommandOutput: Hashable, Sendable {
    /// The exit status; 128 + N when signal N ended it, as shells report it.
    public let status: Int32
    /// Whether a signal ended it.
    public let signaled: Bool
    /// Standard output.
    public let standardOutput: String
    /// Standard error.
    public let standardError: String

    /// Creates an output.
    public init(status: Int32, signaled: Bool = false, standardOutput: String, standardError: String) {
        self.status = status
        self.signaled = signaled
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// Exit status 0.
    public var succeeded: Bool { status == 0 && !signaled }
}

/// A program that could not be run, timed out, or exited non-zero where success was required.
public struct CommandError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Hashable, Sendable {
        /// The program could not be started.
        case launchFailed(String)
        /// The program ran past its timeout and was stopped.
        case timedOut(Duration)
        /// The program exited with a non-zero status.
        case failed(CommandOutput)
    }

    /// The command.
    public let command: Command
    /// What went wrong.
    public let reason: Reason

    /// Creates an error.
    public init(command: Command, reason: Reason) {
        self.command = command
        self.reason = reason
    }

    /// The command, the exit status and the tool's own message, on one line where possible.
    public var description: String {
        switch reason {
        case .launchFailed(let why):
            return "could not run `\(command)`: \(why)"
        case .timedOut(let timeout):
            return "`\(command)` did not finish within \(timeout) and was stopped"
        case .failed(let output):
            let message = [output.standardError, output.standardOutput]
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .first { !$0.isEmpty } ?? "(no output)"
            let how = output.signaled ? "was killed by signal \(output.status - 128)" : "exited \(output.status)"
            return "`\(command)` \(how): \(message)"
        }
    }
}

import Foundation
