import Foundation

/// One parsed HTTP/1.x request: just what the Redfish subset needs.
struct HTTPRequest: Sendable {
    /// The method token, as sent (methods are case-sensitive).
    var method: String
    /// The request target as sent, for logs.
    var target: String
    /// The percent-decoded path, without query or trailing slash (`/` stays `/`).
    var path: String
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    var minorVersion: Int
    /// Header fields in arrival order, names lowercased.
    var headers: [(name: String, value: String)]
    /// The body (Content-Length framed).
    var body: [UInt8] = []

    /// The first value of the header `name` (lowercase).
    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// The comma-separated tokens of every `name` header, lowercased.
    func tokens(_ name: String) -> [String] {
        headers.filter { $0.name == name }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    /// Whether the client wants the connection kept open after the response.
    var keepAlive: Bool {
        let connection = tokens("connection")
        if connection.contains("close") { return false }
        return minorVersion >= 1 || connection.contains("keep-alive")
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    var expectsContinue: Bool { tokens("expect").contains("100-continue") }
}

/// A request the server refuses before routing it: the status to answer with, and why (for the log and
/// the Redfish error body; never contains header values).
struct HTTPRequestError: Error, Equatable, Sendable {
    var status: Int
    var reason: String
}

/// Sizes past which a request is refused rather than buffered.
struct HTTPLimits: Sendable {
    /// Request line plus header fields, in bytes (`431` past it).
    var maxHeadBytes = 16 * 1024
    /// Number of header fields (`431` past it).
    var maxHeaderFields = 100
    /// Body size (`413` past it). A reset request is about 30 bytes.
    var maxBodyBytes = 64 * 1024
    /// How long a connection may sit with no bytes arriving before it is closed.
    var idleSeconds = 30
    /// How long one request may take to arrive in full once its first byte is in (`408` past it), so a
    /// client trickling a byte at a time cannot hold a connection thread indefinitely.
    var requestSeconds: TimeInterval = 30
}

/// Parses request heads out of a connection's byte buffer.
enum HTTPRequestParser {
    private static let terminator: [UInt8] = Array("\r\n\r\n".utf8)

    /// The request head at the start of `buffer` and the number of bytes it took, or `nil` if more bytes are
    /// needed; throws for a request the server must refuse.
    static func parseHead(
        _ buffer: [UInt8], limits: HTTPLimits
    ) throws(HTTPRequestError) -> (request: HTTPRequest, consumed: Int, contentLength: Int)? {
        // Leading empty lines before a request line are allowed (RFC 9112 2.2).
        var start = 0
        while start + 1 < buffer.count, buffer[start] == 13, buffer[start + 1] == 10 { start += 2 }
        guard let end = firstIndex(of: terminator, in: buffer, from: start) else {
            if buffer.count - start > limits.maxHeadBytes {
                throw HTTPRequestError(status: 431, reason: "request head larger than \(limits.maxHeadBytes) bytes")
            }
            // Refuse a head that can never become valid now, rather than wait for a CRLF CRLF that a
            // client using bare LF will never send. A final CR may still be followed by its LF.
            let complete = buffer.last == 13 ? buffer.count - 1 : buffer.count
            _ = try splitLines(buffer[start..<complete])
            return nil
        }
        if end - start > limits.maxHeadBytes {
            throw HTTPRequestError(status: 431, reason: "request head larger than \(limits.maxHeadBytes) bytes")
        }
        let lines = try splitLines(buffer[start..<end])
        guard let requestLine = lines.first else { throw HTTPRequestError(status: 400, reason: "empty request") }
        var request = try parseRequestLine(requestLine)
        let fields = lines.dropFirst()
        guard fields.count <= limits.maxHeaderFields else {
            throw HTTPRequestError(status: 431, reason: "more than \(limits.maxHeaderFields) header fields")
        }
        for line in fields { request.headers.append(try parseField(line)) }
        let contentLength = try bodyLength(of: request, limits: limits)
        return (request, end + terminator.count, contentLength)
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count - start >= needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }

    /// Splits the head at CRLF, refusing bare CR, bare LF and other control bytes (request smuggling
    /// lives in the differences between lenient parsers).
    private static func splitLines(_ head: ArraySlice<UInt8>) throws(HTTPRequestError) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var index = head.startIndex
        while index < head.endIndex {
            let byte = head[index]
            if byte == 13 {
                guard index + 1 < head.endIndex, head[index + 1] == 10 else {
                    throw HTTPRequestError(status: 400, reason: "bare CR in request head")
                }
                lines.append(head[lineStart..<index])
                index += 2
                lineStart = index
                continue
            }
            if byte == 10 { throw HTTPRequestError(status: 400, reason: "bare LF in request head") }
            if (byte < 0x20 && byte != 9) || byte == 0x7F {
                throw HTTPRequestError(status: 400, reason: "control character in request head")
            }
            index += 1
        }
        lines.append(head[lineStart..<head.endIndex])
        return lines
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPRequestError) -> HTTPRequest {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPRequestError(status: 400, reason: "malformed request line") }
        let (methodBytes, targetBytes, versionBytes) = (parts[0], parts[1], parts[2])
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(isTokenByte) else {
            throw HTTPRequestError(status: 400, reason: "malformed method")
        }
        guard let first = targetBytes.first, first == UInt8(ascii: "/"),
            targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw HTTPRequestError(status: 400, reason: "request target is not an absolute path")
        }
        let version = String(decoding: versionBytes, as: UTF8.self)
        let minorVersion: Int
        switch version {
        case "HTTP/1.1": minorVersion = 1
        case "HTTP/1.0": minorVersion = 0
        default:
            if version.hasPrefix("HTTP/"), version.count == 8, version.dropFirst(5).first?.isNumber == true {
                throw HTTPRequestError(status: 505, reason: "only HTTP/1.0 and HTTP/1.1 are served")
            }
            throw HTTPRequestError(status: 400, reason: "malformed HTTP version")
        }
        let target = String(decoding: targetBytes, as: UTF8.self)
        let rawPath = target.prefix { $0 != "?" && $0 != "#" }
        guard let decoded = rawPath.removingPercentEncoding, !decoded.contains("\0") else {
            throw HTTPRequestError(status: 400, reason: "malformed percent-encoding in path")
        }
        var path = decoded
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return HTTPRequest(
            method: String(decoding: methodBytes, as: UTF8.self), target: target, path: path,
            minorVersion: minorVersion, headers: [])
    }

    private static func parseField(_ line: ArraySlice<UInt8>) throws(HTTPRequestError) -> (name: String, value: String)
    {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            // Also catches obs-fold continuation lines, which RFC 9112 lets a server refuse.
            throw HTTPRequestError(status: 400, reason: "header line without a colon")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            throw HTTPRequestError(status: 400, reason: "malformed header field name")
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
        while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
        // Header values are Latin-1 at worst; decoding as UTF-8 only ever replaces bytes, never fails.
        return (String(decoding: name, as: UTF8.self).lowercased(), String(decoding: value, as: UTF8.self))
    }

    private static func bodyLength(of request: HTTPRequest, limits: HTTPLimits) throws(HTTPRequestError) -> Int {
        if request.header("transfer-encoding") != nil {
            throw HTTPRequestError(status: 501, reason: "Transfer-Encoding is not supported; send Content-Length")
        }
        let values = request.headers.filter { $0.name == "content-length" }
            .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = values.first else { return 0 }
        guard values.allSatisfy({ $0 == first }), !first.isEmpty, first.count <= 18,
            first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let length = Int(first)
        else {
            throw HTTPRequestError(status: 400, reason: "malformed Content-Length")
        }
        guard length <= limits.maxBodyBytes else {
            throw HTTPRequestError(status: 413, reason: "body larger than \(limits.maxBodyBytes) bytes")
        }
        return length
    }
}

/// One HTTP response, serialised by the connection.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    /// A JSON response with Redfish's headers.
    static func json(_ status: Int, _ object: [String: any Sendable], extraHeaders: [(String, String)] = [])
        -> HTTPResponse
    {
        // JSONSerialization cannot fail on the dictionaries of strings, numbers and arrays built here.
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return HTTPResponse(
            status: status,
            headers: [("Content-Type", "application/json; charset=utf-8"), ("OData-Version", "4.0")]
                + extraHeaders.map { (name: $0.0, value: $0.1) },
            body: Array(data))
    }

    /// The bytes on the wire, with framing and connection headers.
    func serialized(keepAlive: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPResponse.reasonPhrase(status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        // RFC 9110 8.6: no Content-Length on 1xx and 204.
        if status != 204 && status >= 200 { head += "Content-Length: \(body.count)\r\n" }
        head += "Cache-Control: no-store\r\n"
        head += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        return Array(head.utf8) + (status == 204 ? [] : body)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
