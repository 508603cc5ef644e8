import Foundation

/// The one account of the lab BMC: the username and password Redfish clients send with HTTP basic auth.
///
/// The password never appears in a description, a debug dump or a log line.
package struct BMCCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The login name.
    package let username: String
    /// The password (kept out of every description).
    let password: String

    /// Credentials from values.
    package init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Credentials whose password is the content of `passwordFile`, without its trailing line break.
    ///
    /// Throws ``LabBMCError`` when the file cannot be read or holds no password.
    package init(username: String, passwordFile: String) throws {
        let contents: String
        do {
            contents = try String(contentsOfFile: passwordFile, encoding: .utf8)
        } catch {
            throw LabBMCError(
                .configuration,
                "cannot read the BMC password file \(passwordFile): check that it exists and is readable",
                underlying: error)
        }
        var password = Substring(contents)
        while let last = password.last, last == "\n" || last == "\r" { password = password.dropLast() }
        guard !password.isEmpty else {
            throw LabBMCError(
                .configuration, "the BMC password file \(passwordFile) is empty: write the password into it")
        }
        self.init(username: username, password: String(password))
    }

    /// `BMCCredentials(username: NAME, password: <redacted>)`.
    package var description: String { "BMCCredentials(username: \(username), password: <redacted>)" }

    /// The same as ``description``.
    package var debugDescription: String { description }

    /// A mirror without the password, so `dump` and the test runner's value printing never show it.
    package var customMirror: Mirror { Mirror(self, children: ["username": username, "password": "<redacted>"]) }

    /// Whether an `Authorization` header value carries these credentials (basic auth).
    func accepts(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1].trimmingCharacters(in: .whitespaces)))
        else { return false }
        let bytes = Array(decoded)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return false }
        // Compare both fields in full whatever the outcome, so timing says little about which was wrong.
        let userMatches = Self.constantTimeEqual(Array(bytes[..<colon]), Array(username.utf8))
        let passwordMatches = Self.constantTimeEqual(Array(bytes[(colon + 1)...]), Array(password.utf8))
        return userMatches && passwordMatches
    }

    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}

/// Why the lab BMC, its TLS frontend or its power commands failed.
package struct LabBMCError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        package let name: String
        /// Bad options or files: the user can fix it.
        package static let configuration = Code(name: "configuration")
        /// The listening socket could not be set up.
        package static let listen = Code(name: "listen")
        /// An external command (openssl, a power command) could not start, failed or timed out.
        package static let command = Code(name: "command")
        /// The power state file holds something other than `On` or `Off`.
        package static let stateFile = Code(name: "stateFile")
        /// The code's name.
        package var description: String { name }
    }

    /// What kind of failure this is.
    package let code: Code
    /// What failed, on which object, and what to do next.
    package let message: String
    /// The error that caused this one, if any.
    package let underlying: (any Error)?

    /// An error with `code`, `message` and an optional cause.
    package init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The message, followed by the cause when there is one.
    package var description: String {
        guard let underlying else { return message }
        return "\(message) (\(underlying))"
    }
}
