import ClusterExec

/// An error the CLI reports as one line and a non-zero exit.
package struct CLIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The sentence to print.
    package let message: String

    /// Creates an error with `message`.
    package init(_ message: String) { self.message = message }

    /// The sentence to print.
    package var description: String { message }
}

/// An error whose description is already the one line the CLI prints.
package protocol ReportedError: Error, CustomStringConvertible {}

extension CommandError: ReportedError {}

/// Runs `body`, turning day-2 operation, command and other ``ReportedError``s into one-line CLI errors.
package func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as OperationError {
        throw CLIError(error.message)
    } catch let error as any ReportedError {
        throw CLIError(error.description)
    }
}
