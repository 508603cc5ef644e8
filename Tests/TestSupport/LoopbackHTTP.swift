import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One response as read off the wire.
package struct RawHTTPResponse: Sendable {
    package let status: Int
    /// Header fields, names lowercased (the last value wins).
    package let headers: [String: String]
    package let body: Data

    /// The body as a JSON object, or `nil`.
    package var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    /// `error.code` of a Redfish error body.
    package var redfishErrorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
}

/// A minimal HTTP/1.1 client over a real loopback TCP socket, so tests control every byte sent.
package enum LoopbackHTTP {
    /// ``request(port:_:_:auth:body:headers:)`` on a thread of its own.
    package static func request(
        port: UInt16, _ method: String, _ path: String, auth: (String, String)? = nil, body: String? = nil,
        headers: [String] = []
    ) async throws -> RawHTTPResponse {
        try await offPool { try request(port: port, method, path, auth: auth, body: body, headers: headers) }
    }

    /// ``exchange(port:_:)`` on a thread of its own: for async tests whose server runs in this process.
    package static func exchange(port: UInt16, _ raw: [UInt8]) async throws -> [RawHTTPResponse] {
        try await offPool { try exchange(port: port, raw) }
    }

    /// Connects to 127.0.0.1:`port` with 5 s send and receive timeouts.
    package static func connect(port: UInt16) throws -> Int32 {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw TestSetupError("socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socketFD, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let message = String(cString: strerror(errno))
            close(socketFD)
            throw TestSetupError("connect 127.0.0.1:\(port): \(message)")
        }
        return socketFD
    }

    /// Sends all of `bytes`.
    package static func send(_ socketFD: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(socketFD, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            // The server may answer and close before reading everything (e.g. 431): stop sending then.
            if written <= 0 { return }
            offset += written
        }
    }

    /// Reads until the server closes the connection; throws if it stays silent for 5 s.
    package static func readToEnd(_ socketFD: Int32) throws -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(socketFD, &chunk, chunk.count, 0)
            if count > 0 {
                received.append(contentsOf: chunk[..<count])
            } else if count == 0 || errno == ECONNRESET {
                return received
            } else if errno != EINTR {
                let text = String(decoding: received, as: UTF8.self)
                throw TestSetupError("the BMC neither answered nor closed within 5 s; got so far: \(text)")
            }
        }
    }

    /// Reads exactly one response (Content-Length framed) and leaves the connection open.
    package static func readResponse(_ socketFD: Int32, buffer: inout [UInt8]) throws -> RawHTTPResponse {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let (response, used) = try parseOne(buffer) {
                buffer.removeFirst(used)
                return response
            }
            let count = recv(socketFD, &chunk, chunk.count, 0)
            guard count > 0 else { throw TestSetupError("connection ended before a whole response arrived") }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    /// Sends `raw` and reads until the server closes; returns every response in what came back.
    package static func exchange(port: UInt16, _ raw: [UInt8]) throws -> [RawHTTPResponse] {
        let socketFD = try connect(port: port)
        defer { close(socketFD) }
        try send(socketFD, raw)
        var bytes = try readToEnd(socketFD)
        var responses: [RawHTTPResponse] = []
        while let (response, used) = try parseOne(bytes) {
            responses.append(response)
            bytes.removeFirst(used)
        }
        return responses
    }

    /// One request with `Connection: close`.
    package static func request(
        port: UInt16, _ method: String, _ path: String, auth: (String, String)? = nil, body: String? = nil,
        headers: [String] = []
    ) throws -> RawHTTPResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n"
        if let (user, password) = auth {
            head += "Authorization: Basic \(Data("\(user):\(password)".utf8).base64EncodedString())\r\n"
        }
        for header in headers { head += "\(header)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        head += "\r\n" + (body ?? "")
        let responses = try exchange(port: port, Array(head.utf8))
        guard let first = responses.first else { throw TestSetupError("no response to \(method) \(path)") }
        return first
    }

    /// The first response in `bytes` and its length, or `nil` if it is not complete yet.
    package static func parseOne(_ bytes: [UInt8]) throws -> (RawHTTPResponse, Int)? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        let headLength = text.utf8.distance(from: text.startIndex, to: headEnd.upperBound)
        let lines = text[..<headEnd.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw TestSetupError("not an HTTP response: \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard bytes.count >= headLength + length else { return nil }
        return (
            RawHTTPResponse(status: status, headers: headers, body: Data(bytes[headLength..<headLength + length])),
            headLength + length
        )
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    package static func freePort() throws -> UInt16 {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socketFD, pointer, length) == 0 && getsockname(socketFD, pointer, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("cannot find a free port: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    package static func isAccepting(port: UInt16) -> Bool {
        guard let socketFD = try? connect(port: port) else { return false }
        close(socketFD)
        return true
    }
}

/// Runs a tool to completion with optional stdin, extra environment and a timeout; for short-lived tools
/// only (daemons go through ``ChildProcess``).
package func runTool(
    _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
    timeout: TimeInterval = 60
) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    }
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

/// Runs blocking work (a `runTool`, a socket read) on a thread of its own rather than one of the few
/// threads async code shares, so an in-process server the work talks to keeps running.
package func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
