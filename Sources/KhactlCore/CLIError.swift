/// An error the CLI reports as one line and a non-zero exit.
public struct CLIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The sentence to print.
    public let message: String

    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }

    /// The sentence to print.
    public var description: String { message }
}
