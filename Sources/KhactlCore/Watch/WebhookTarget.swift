import Foundation

/// An error of the webhook sink: a bad URL or token (before anything starts), or one failed delivery attempt.
///
/// Messages never contain the bearer token, nor credentials a URL might carry.
package struct WebhookError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    package enum Code: Hashable, Sendable {
        /// The URL given to `--sink webhook:URL` cannot be used.
        case invalidURL
        /// The token file or variable cannot be used.
        case invalidToken
        /// The host name did not resolve.
        case resolve
        /// No connection (refused, unreachable).
        case connect
        /// The attempt took longer than its timeout.
        case timeout
        /// Sending or receiving failed after the connection was made.
        case io
        /// The answer was not an HTTP/1.x response.
        case malformedResponse
        /// TLS failed: an untrusted certificate, a wrong host name (not retried).
        case tls
        /// The attempt was abandoned (shutdown).
        case cancelled
    }

    /// What went wrong.
    package let code: Code
    /// One sentence for a person.
    package let message: String

    /// Creates an error.
    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    package var description: String { message }
}

/// Where a webhook sink posts: an `http://` URL, checked before the watcher starts.
///
/// Only plain HTTP is spoken (khactl's own small HTTP/1.1 client, no TLS): point it at a receiver on the
/// node or on a trusted network, or at a local relay that adds TLS. The URL may not carry credentials
/// (`user:password@`), since arguments are visible to every user in the process list; the bearer token comes
/// from `--webhook-token-file` or `KHACTL_WEBHOOK_TOKEN`.
package struct WebhookTarget: Hashable, Sendable, CustomStringConvertible {
    /// The host as given: a name, an IPv4 address or an IPv6 address (without brackets).
    package let host: String
    /// The TCP port (80 unless given).
    package let port: UInt16
    /// The request target: the URL's path and query, `/` when the path is empty.
    package let requestTarget: String
    /// The value of the `Host` header.
    package let hostHeader: String
    /// `http` or `https`.
    package let scheme: String
    /// The whole URL, query included (never logged: a query may carry a secret of the receiver's).
    let url: String
    /// The URL without its query, for logs (a query may carry a secret of the receiver's).
    package let description: String

    /// Parses `text`, the part after `webhook:`.
    package init(parsing text: String) throws(WebhookError) {
        let example = "e.g. --sink webhook:https://alerts.example.com/khactl"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw WebhookError(.invalidURL, "webhook URL \"\(text)\" is not an http:// or https:// URL, \(example)")
        }
        guard components.user == nil && components.password == nil else {
            // The text is not repeated: it holds a password.
            throw WebhookError(
                .invalidURL,
                "the webhook URL carries credentials (user:password@), which would be visible in the process list; "
                    + "remove them and put a bearer token in --webhook-token-file or KHACTL_WEBHOOK_TOKEN")
        }
        guard scheme == "http" || scheme == "https" else {
            throw WebhookError(.invalidURL, "webhook URL \"\(text)\": scheme \(scheme) is not supported; use https:// or http://, \(example)")
        }
        var host = components.host ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else {
            throw WebhookError(.invalidURL, "webhook URL \"\(text)\" names no host, \(example)")
        }
        let defaultPort = scheme == "https" ? 443 : 80
        let port = components.port ?? defaultPort
        guard (1...65535).contains(port) else {
            throw WebhookError(.invalidURL, "webhook URL \"\(text)\": port \(port) is not 1-65535")
        }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let query = components.percentEncodedQuery.map { "?\($0)" } ?? ""
        self.host = host
        self.port = UInt16(port)
        self.requestTarget = path + query
        let hostForm = host.contains(":") ? "[\(host)]" : host
        self.hostHeader = port == defaultPort ? hostForm : "\(hostForm):\(port)"
        self.description = "\(scheme)://\(hostForm):\(port)\(path)"
        self.url = "\(scheme)://\(hostForm):\(port)\(path)\(query)"
        self.scheme = scheme
    }
}

/// The bearer token of a webhook sink. It is never printed: its description is `(secret)`.
package struct WebhookToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The environment variable read when no token file is given.
    package static let environmentVariable = "KHACTL_WEBHOOK_TOKEN"

    /// The token itself; only the HTTP client reads it.
    let value: String
    /// Where it came from (a path or the variable's name), for messages.
    package let origin: String

    /// `(secret)`.
    package var description: String { "(secret)" }
    /// `(secret)`.
    package var debugDescription: String { "(secret)" }

    /// Checks a token: one line of visible ASCII, so it can never split or add a header.
    init(_ raw: String, origin: String) throws(WebhookError) {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw WebhookError(.invalidToken, "the webhook token in \(origin) is empty") }
        guard value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw WebhookError(
                .invalidToken,
                "the webhook token in \(origin) contains spaces, line breaks or non-ASCII characters; "
                    + "a bearer token is one word of visible ASCII")
        }
        self.value = value
        self.origin = origin
    }

    /// The token from `file` if given, else from ``environmentVariable`` in `environment`, else nil.
    ///
    /// Returns also whether the file can be read by group or others (worth a warning).
    package static func load(file: String?, environment: [String: String]) throws(WebhookError) -> (
        token: WebhookToken?, looseFile: Bool
    ) {
        if let file {
            let (text, loose) = try readTokenFile(file)
            return (try WebhookToken(text, origin: file), loose)
        }
        if let text = environment[environmentVariable] {
            return (try WebhookToken(text, origin: "$\(environmentVariable)"), false)
        }
        return (nil, false)
    }

    /// The text of a token file (at most 64 KiB) and whether group or others may read it.
    private static func readTokenFile(_ path: String) throws(WebhookError) -> (String, Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw WebhookError(
                .invalidToken, "cannot read the webhook token file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw WebhookError(.invalidToken, "the webhook token file \(path) is not a regular file")
        }
        let limit = 65536
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        while count <= limit {
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, limit + 1 - count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else {
                throw WebhookError(
                    .invalidToken, "cannot read the webhook token file \(path): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            count += got
        }
        guard count <= limit else { throw WebhookError(.invalidToken, "the webhook token file \(path) is over 64 KiB") }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
            throw WebhookError(.invalidToken, "the webhook token file \(path) is not UTF-8 text")
        }
        return (text, status.st_mode & 0o077 != 0)
    }
}
