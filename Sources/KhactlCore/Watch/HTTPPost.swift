import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One HTTP/1.1 POST on a connection of its own (`Connection: close`), for the webhook sink.
///
/// Hand-written rather than URLSession: FoundationNetworking would link libcurl and some twenty libraries
/// into every khactl command, and brings behaviour a webhook with a bearer token must not have (proxies
/// taken from the environment, redirects followed with the token). This client resolves the host, connects,
/// sends the request and reads the status line, all under one deadline; nothing else.
///
/// The socket work blocks, so it runs on a Dispatch queue, never on Swift's cooperative threads (two of them
/// on a 2-core node): a slow receiver must not take a thread from event intake. Cancelling the calling
/// task wakes the exchange through a socket pair it polls together with the socket.
struct HTTPPost: Sendable {
    /// Where to post.
    let target: WebhookTarget
    /// Extra header fields (after Host, User-Agent, Content-Type, Content-Length).
    let headers: [HeaderField]
    /// The limit for the whole attempt: resolve, connect, send, first response line.
    let timeout: Duration

    /// A header field.
    struct HeaderField: Sendable {
        let name: String
        let value: String
    }

    private static let queue = DispatchQueue(label: "khactl.webhook.http", attributes: .concurrent)

    /// Posts `body` as `application/json`; returns the response's status code.
    func send(_ body: [UInt8]) async throws(WebhookError) -> Int {
        let exchange = try Exchange(deadline: .now + timeout)
        let request = self.request(body)
        let target = self.target
        let result: Result<Int, WebhookError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                HTTPPost.queue.async {
                    continuation.resume(returning: Result { () throws(WebhookError) in try exchange.run(request, to: target) })
                    exchange.close()
                }
            }
        } onCancel: {
            exchange.cancel()
        }
        return try result.get()
    }

    /// The request's bytes.
    func request(_ body: [UInt8]) -> [UInt8] {
        var head = "POST \(target.requestTarget) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
        head += "User-Agent: khactl/\(Khactl.version)\r\nContent-Type: application/json\r\n"
        head += "Content-Length: \(body.count)\r\n"
        for field in headers { head += "\(field.name): \(field.value)\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

/// The blocking part of one POST. `run` is called once, on a Dispatch thread; `cancel` from anywhere.
private final class Exchange: Sendable {
    private let deadline: ContinuousClock.Instant
    /// The wake-up pair's read end (polled with the socket) and write end (written by `cancel`), a socket
    /// pair because it takes close-on-exec atomically. Both are closed by `close()` under the lock, so
    /// `cancel` never writes to a descriptor number reused since.
    private let wakeEnds: Mutex<(read: Int32, write: Int32)?>
    private let wakeRead: Int32

    init(deadline: ContinuousClock.Instant) throws(WebhookError) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
            throw WebhookError(.io, "cannot make a socket pair: \(String(cString: strerror(errno)))")
        }
        self.deadline = deadline
        self.wakeRead = fds[0]
        self.wakeEnds = Mutex((fds[0], fds[1]))
    }

    func cancel() {
        wakeEnds.withLock { ends in
            guard let ends else { return }
            var byte: UInt8 = 1
            _ = send(ends.write, &byte, 1, Int32(MSG_NOSIGNAL))
        }
    }

    func close() {
        wakeEnds.withLock { ends in
            guard let current = ends else { return }
            Glibc.close(current.read)
            Glibc.close(current.write)
            ends = nil
        }
    }

    func run(_ request: [UInt8], to target: WebhookTarget) throws(WebhookError) -> Int {
        let socketFD = try connect(to: target)
        defer { Glibc.close(socketFD) }
        try sendAll(request, on: socketFD, target: target)
        return try readStatus(from: socketFD, target: target)
    }

    // MARK: Connecting

    private func connect(to target: WebhookTarget) throws(WebhookError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        // getaddrinfo cannot be bounded or cancelled; numeric addresses resolve at once, names within the
        // resolver's own timeouts (resolv.conf). Shutdown does not wait for it (see WebhookSink.finish).
        let status = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard status == 0, let first = list else {
            throw WebhookError(.resolve, "cannot resolve \(target.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = WebhookError(.connect, "no address for \(target.host)")
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            entry = current.pointee.ai_next
            let socketFD = socket(
                current.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                current.pointee.ai_protocol)
            guard socketFD >= 0 else {
                lastError = WebhookError(.connect, "socket: \(String(cString: strerror(errno)))")
                continue
            }
            do throws(WebhookError) {
                if Glibc.connect(socketFD, current.pointee.ai_addr, current.pointee.ai_addrlen) != 0 {
                    guard errno == EINPROGRESS else { throw connectError(errno, target) }
                    try wait(socketFD, for: Int16(POLLOUT), what: "connecting to \(target.hostHeader)")
                    var pending: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(socketFD, SOL_SOCKET, SO_ERROR, &pending, &length)
                    guard pending == 0 else { throw connectError(pending, target) }
                }
                return socketFD
            } catch {
                Glibc.close(socketFD)
                // Timeouts and cancellation end the attempt; a refused address moves on to the next one.
                guard error.code == .connect else { throw error }
                lastError = error
            }
        }
        throw lastError
    }

    private func connectError(_ code: Int32, _ target: WebhookTarget) -> WebhookError {
        WebhookError(.connect, "cannot connect to \(target.hostHeader): \(String(cString: strerror(code)))")
    }

    // MARK: Sending and receiving

    private func sendAll(_ bytes: [UInt8], on socketFD: Int32, target: WebhookTarget) throws(WebhookError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(socketFD, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                offset += sent
            } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                try wait(socketFD, for: Int16(POLLOUT), what: "sending to \(target.hostHeader)")
            } else if sent < 0 && errno == EINTR {
                continue
            } else {
                throw WebhookError(.io, "sending to \(target.hostHeader) failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Reads response heads until a final (non-1xx) one; returns its status code.
    private func readStatus(from socketFD: Int32, target: WebhookTarget) throws(WebhookError) -> Int {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let limit = 16384
        while true {
            if let status = try HTTPResponseHead.finalStatus(in: &buffer, target: target) { return status }
            guard buffer.count < limit else {
                throw WebhookError(.malformedResponse, "\(target.hostHeader) sent a response head over 16 KiB")
            }
            let count = chunk.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
            } else if count == 0 {
                throw WebhookError(.io, "\(target.hostHeader) closed the connection without a response")
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(socketFD, for: Int16(POLLIN), what: "waiting for \(target.hostHeader)'s response")
            } else if errno != EINTR {
                throw WebhookError(.io, "receiving from \(target.hostHeader) failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Waits until `socketFD` is ready for `events`; throws on the deadline or on cancellation.
    private func wait(_ socketFD: Int32, for events: Int16, what: String) throws(WebhookError) {
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { throw WebhookError(.timeout, "timed out \(what)") }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var fds = [pollfd(fd: socketFD, events: events, revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw WebhookError(.io, "poll failed \(what): \(String(cString: strerror(errno)))")
            }
            if fds[1].revents != 0 { throw WebhookError(.cancelled, "cancelled \(what)") }
            if fds[0].revents != 0 { return }
        }
    }
}

/// The webhook client's response parser: status lines of HTTP/1.x response heads.
enum HTTPResponseHead {
    /// Takes the complete response heads off the front of `buffer` and returns the first final (non-1xx) status,
    /// or nil when more bytes are needed. The webhook client's whole response parser (fuzzed: Scripts/fuzz.sh).
    static func finalStatus(in buffer: inout [UInt8], target: WebhookTarget) throws(WebhookError) -> Int? {
        while let end = headEnd(in: buffer) {
            let status = try status(of: buffer[..<end], target: target)
            buffer.removeFirst(end + 4)
            if status >= 200 { return status }
        }
        return nil
    }

    static func headEnd(in buffer: [UInt8]) -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// The status code of a response head (`HTTP/1.1 503 Service Unavailable`).
    static func status(of head: ArraySlice<UInt8>, target: WebhookTarget) throws(WebhookError) -> Int {
        let line = String(decoding: head.prefix { $0 != 13 }, as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let status = Int(parts[1]),
            (100...599).contains(status)
        else {
            throw WebhookError(.malformedResponse, "\(target.hostHeader) did not answer with HTTP/1.x: \(line.prefix(80))")
        }
        return status
    }
}
