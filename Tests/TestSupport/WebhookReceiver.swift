import Corosync
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A webhook receiver for tests: an HTTP/1.1 server on 127.0.0.1 or another address (of the test's own network
/// namespace, or of another one, e.g. a lab node's or the lab switch's) that records every request and answers with scripted statuses.
///
/// One connection at a time, on a thread of its own; each request is answered and the connection closed.
package final class WebhookReceiver: Sendable {
    /// One request as received.
    package struct Request: Sendable {
        package let method: String
        package let target: String
        /// Header fields, names lowercased.
        package let headers: [String: String]
        package let body: Data
        /// When the head arrived.
        package let received: ContinuousClock.Instant
        /// The status it was answered with.
        package let status: Int

        package var bodyText: String { String(decoding: body, as: UTF8.self) }
        package var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    /// The port it listens on.
    package let port: UInt16
    private let listenFD: Int32
    private let state: Mutex<(requests: [Request], script: [Int], stopped: Bool)>
    private let defaultStatus: Int
    private let delay: Duration
    private let finished = Mutex(false)

    /// Listens on a free port of 127.0.0.1. `script` gives the statuses of the first requests, in order;
    /// later ones get `defaultStatus`. Each answer is sent after `delay`. With `networkNamespace` (a
    /// /proc/PID/ns/net path) the socket is made inside that namespace; it stays there whatever thread
    /// accepts on it.
    package init(
        script: [Int] = [], defaultStatus: Int = 200, delay: Duration = .zero, networkNamespace: String? = nil, address: String = "127.0.0.1"
    ) throws {
        let made = Mutex<Result<Int32, TestSetupError>?>(nil)
        if let networkNamespace {
            // The socket is made inside the namespace by khactl's one namespace thread, and stays there.
            do {
                try NetworkNamespaceThread.start(in: networkNamespace, name: "webhook-receiver") {
                    made.withLock { $0 = WebhookReceiver.makeListener(address) }
                }
            } catch {
                throw TestSetupError(error.description)
            }
        } else {
            made.withLock { $0 = WebhookReceiver.makeListener(address) }
        }
        while made.withLock({ $0 == nil }) { usleep(1_000) }
        let listening = try made.withLock { $0! }.get()
        listenFD = listening
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listening, $0, &length) }
        }
        port = UInt16(bigEndian: bound.sin_port)
        self.address = address
        state = Mutex(([], script, false))
        self.defaultStatus = defaultStatus
        self.delay = delay
        let server = Thread { [self] in serve() }
        server.start()
    }

    deinit { stop() }

    private static func makeListener(_ host: String) -> Result<Int32, TestSetupError> {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr(host)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard socketFD >= 0, bound == 0, listen(socketFD, 64) == 0 else {
            return .failure(TestSetupError("cannot listen on \(host): \(String(cString: strerror(errno)))"))
        }
        return .success(socketFD)
    }

    /// Every request so far.
    package var requests: [Request] { state.withLock { $0.requests } }

    /// The address it listens on (127.0.0.1 unless told).
    package let address: String

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    package var url: String { "http://\(address):\(port)" }

    /// Waits until `condition` holds for the requests so far, or throws after `timeout`.
    @discardableResult
    package func wait(for what: String, timeout: Duration = .seconds(10), until condition: ([Request]) -> Bool) async throws
        -> [Request]
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let requests = self.requests
            if condition(requests) { return requests }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out after \(timeout) waiting for \(what); requests so far: \(requests.map(\.bodyText))")
    }

    /// Stops listening; the server thread ends.
    package func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        // shutdown() wakes the accept below; the descriptor is closed by the server thread as it leaves.
        if first { shutdown(listenFD, Int32(SHUT_RDWR)) }
        let deadline = ContinuousClock.now + .seconds(2)
        while !finished.withLock({ $0 }) && ContinuousClock.now < deadline { usleep(1_000) }
    }

    private func serve() {
        defer {
            close(listenFD)
            finished.withLock { $0 = true }
        }
        while !state.withLock({ $0.stopped }) {
            let connection = accept(listenFD, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var head: (method: String, target: String, headers: [String: String], length: Int, bodyStart: Int)?
        var arrived = ContinuousClock.now
        while true {
            if head == nil, let end = buffer.firstRange(of: [13, 10, 13, 10]) {
                arrived = ContinuousClock.now
                let lines = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                let requestLine = lines[0].split(separator: " ")
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                head = (
                    requestLine.first.map(String.init) ?? "", requestLine.dropFirst().first.map(String.init) ?? "", headers,
                    Int(headers["content-length"] ?? "0") ?? 0, end.upperBound
                )
            }
            if let head, buffer.count >= head.bodyStart + head.length {
                let status = state.withLock { state -> Int in
                    state.script.isEmpty ? defaultStatus : state.script.removeFirst()
                }
                if delay > .zero { Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18) }
                let request = Request(
                    method: head.method, target: head.target, headers: head.headers,
                    body: Data(buffer[head.bodyStart..<head.bodyStart + head.length]), received: arrived, status: status)
                state.withLock { $0.requests.append(request) }
                let response = Array("HTTP/1.1 \(status) Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
                _ = response.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                return
            }
            let count = recv(connection, &chunk, chunk.count, 0)
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
