import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An emulated BMC for lab nodes: a small plain-HTTP/1.1 server that speaks the part of Redfish the stock
/// `fence_redfish` agent uses, and turns its reset actions into calls on a ``PowerControl``.
///
/// It serves `GET /redfish/v1` (service root), `GET /redfish/v1/Systems` (one member),
/// `GET /redfish/v1/Systems/ID` (`PowerState` and the `#ComputerSystem.Reset` action target) and
/// `POST /redfish/v1/Systems/ID/Actions/ComputerSystem.Reset` with `{"ResetType": ...}` (answered `204`
/// after the power call returns). Everything below the service root needs HTTP basic auth with
/// ``BMCCredentials``. fence_redfish only speaks HTTPS: put ``BMCTLSFrontend`` (haproxy) in front.
///
/// Each connection gets its own thread; connections idle for 30 s are closed, and request heads and bodies
/// are bounded (see `HTTPLimits`). A malformed request gets a `4xx` and a closed connection, never a crash.
public final class RedfishBMC: Sendable {
    /// The address to listen on, as given (`127.0.0.1`, `::1`, `0.0.0.0`, ...).
    public let host: String
    private let requestedPort: UInt16
    private let service: RedfishService
    private let log: @Sendable (String) -> Void
    private let limits: HTTPLimits
    private let maxConnections = 64
    private let state = Mutex(ServerState())
    /// Entered by the accept thread and by every connection thread, so ``stop()`` can wait for all of them.
    private let threads = DispatchGroup()

    private struct ServerState {
        var listener: Int32 = -1
        var port: UInt16 = 0
        var connections: Set<Int32> = []
        var started = false
        var stopped = false
    }

    /// A BMC for one system.
    ///
    /// - Parameters:
    ///   - host: the numeric address (or name) to listen on.
    ///   - port: the TCP port; `0` picks a free one, readable from ``port`` after ``start()``.
    ///   - credentials: the account clients must send.
    ///   - systemID: the system's `Id` and last path segment (letters, digits, `.`, `_`, `-`).
    ///   - power: what reset actions and `PowerState` reads call.
    ///   - log: receives one line per request and per power action; never a password or header value.
    public convenience init(
        host: String, port: UInt16, credentials: BMCCredentials, systemID: String = "1", power: any PowerControl,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.init(
            host: host, port: port, credentials: credentials, systemID: systemID, power: power, limits: HTTPLimits(),
            log: log)
    }

    /// A BMC with other size and time limits (tests shorten the timeouts).
    init(
        host: String, port: UInt16, credentials: BMCCredentials, systemID: String, power: any PowerControl,
        limits: HTTPLimits, log: @escaping @Sendable (String) -> Void
    ) {
        precondition(
            !systemID.isEmpty
                && systemID.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) },
            "a Redfish system ID must be letters, digits, '.', '_' or '-': \(systemID)")
        self.host = host
        self.requestedPort = port
        self.log = log
        self.limits = limits
        self.service = RedfishService(credentials: credentials, systemID: systemID, power: power, log: log)
    }

    /// The port being listened on (the chosen one when created with port `0`); `0` before ``start()``.
    public var port: UInt16 { state.withLock { $0.port } }

    /// The path `fence_redfish --systems-uri` would name; clients can also discover it from the service root.
    public var systemPath: String { service.systemPath }

    /// Binds and listens, then serves in background threads; returns once connections are accepted.
    ///
    /// Throws ``LabBMCError`` (`.listen`) when the address cannot be bound. Call it once.
    public func start() throws {
        state.withLock { state in
            precondition(!state.started, "RedfishBMC.start() called twice")
            state.started = true
        }
        let (listener, port) = try Self.listen(host: host, port: requestedPort)
        state.withLock { state in
            state.listener = listener
            state.port = port
        }
        log("listening on \(Self.display(host: host, port: port))")
        threads.enter()
        let thread = Thread { [self] in
            acceptLoop(listener)
            threads.leave()
        }
        thread.name = "khactl-bmc-accept"
        thread.start()
    }

    /// Stops accepting, closes open connections and waits (up to 10 s, for a power call in progress) for the
    /// serving threads to end. Safe to call more than once, or without ``start()``.
    public func stop() {
        let listener: Int32? = state.withLock { state in
            guard state.started, !state.stopped else { return nil }
            state.stopped = true
            // Shut down (not close) under the lock: the descriptors stay valid until their owning threads
            // close them, so no number is reused under a thread still reading it.
            for connection in state.connections { shutdown(connection, Int32(SHUT_RDWR)) }
            if state.listener >= 0 { shutdown(state.listener, Int32(SHUT_RDWR)) }
            return state.listener
        }
        guard let listener else { return }
        if threads.wait(timeout: .now() + 10) == .timedOut {
            log("stop: a connection was still busy after 10 s")
        }
        if listener >= 0 { close(listener) }
        log("stopped")
    }

    // MARK: sockets

    private static func display(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }

    private static func listen(host: String, port: UInt16) throws -> (Int32, UInt16) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let list else {
            throw LabBMCError(
                .listen,
                "cannot listen on \(display(host: host, port: port)): \(String(cString: gai_strerror(resolved))); "
                    + "give a numeric address such as 127.0.0.1")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            entry = current.pointee.ai_next
            // CLOEXEC: power commands are spawned from this process and must not inherit the listener.
            let socketFD = socket(
                current.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard socketFD >= 0 else {
                lastError = errnoText()
                continue
            }
            var one: Int32 = 1
            setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(socketFD, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0,
                Glibc.listen(socketFD, 64) == 0
            else {
                lastError = errnoText()
                close(socketFD)
                continue
            }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            // Sound: `address` is a sockaddr_storage, large enough for any family, and lives for the call.
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
            }
            return (socketFD, Self.port(of: address))
        }
        throw LabBMCError(
            .listen,
            "cannot listen on \(display(host: host, port: port)): \(lastError); "
                + "pick a free port or an address this host has")
    }

    private static func port(of address: sockaddr_storage) -> UInt16 {
        var copy = address
        // Sound: the family says which layout the storage holds; both fit in sockaddr_storage.
        return withUnsafePointer(to: &copy) { pointer in
            switch Int32(address.ss_family) {
            case AF_INET:
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            case AF_INET6:
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    UInt16(bigEndian: $0.pointee.sin6_port)
                }
            default: 0
            }
        }
    }

    private static func peerName(_ address: sockaddr_storage, _ length: socklen_t) -> String {
        var copy = address
        var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        // Sound: `copy` is a valid sockaddr of `length` bytes; `name` has NI_MAXHOST bytes.
        let result = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard result == 0 else { return "?" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func acceptLoop(_ listener: Int32) {
        while true {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            // Sound: `address` is large enough for any peer address and lives for the call.
            let connection = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            // Glibc's accept4 is not visible to Swift; a command spawned between these two calls could inherit
            // the connection, which is why the command runner also closes every descriptor above 2.
            if connection >= 0 { _ = fcntl(connection, F_SETFD, FD_CLOEXEC) }
            if connection < 0 {
                let error = errno
                if state.withLock({ $0.stopped }) { return }
                switch error {
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    log("accept: \(String(cString: strerror(error))); retrying in 100 ms")
                    usleep(100_000)
                    continue
                default:
                    log("accept failed: \(String(cString: strerror(error))); no longer accepting connections")
                    return
                }
            }
            let peer = Self.peerName(address, length)
            let admitted: Bool? = state.withLock { state in
                if state.stopped { return nil }
                guard state.connections.count < maxConnections else { return false }
                state.connections.insert(connection)
                return true
            }
            switch admitted {
            case nil:
                close(connection)
                return
            case false?:
                log("refusing a connection from \(peer): \(maxConnections) connections already open")
                let busy = RedfishService.error(
                    503, "Base.1.8.ServiceTemporarilyUnavailable", "Too many open connections; retry later.")
                _ = send(connection, busy.serialized(keepAlive: false))
                close(connection)
            case true?:
                threads.enter()
                let thread = Thread { [self] in
                    serve(connection, peer: peer)
                    state.withLock { state in
                        state.connections.remove(connection)
                        close(connection)
                    }
                    threads.leave()
                }
                thread.name = "khactl-bmc-connection"
                thread.start()
            }
        }
    }

    // MARK: one connection

    private func serve(_ connection: Int32, peer: String) {
        var timeout = timeval(tv_sec: limits.idleSeconds, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer: [UInt8] = []
        while true {
            let head: (request: HTTPRequest, consumed: Int, contentLength: Int, deadline: Date)
            do {
                guard let parsed = try readHead(connection, &buffer) else { return }
                head = parsed
            } catch {
                refuse(connection, peer: peer, error)
                return
            }
            buffer.removeFirst(head.consumed)
            var request = head.request
            if request.expectsContinue && buffer.count < head.contentLength {
                guard send(connection, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return }
            }
            while buffer.count < head.contentLength {
                guard receive(connection, into: &buffer) else { return }
                if Date() > head.deadline {
                    refuse(connection, peer: peer, HTTPRequestError(status: 408, reason: "body did not arrive in time"))
                    return
                }
            }
            request.body = Array(buffer[..<head.contentLength])
            buffer.removeFirst(head.contentLength)

            let response = service.respond(to: request)
            log("\(peer): \(request.method) \(request.path) -> \(response.status)")
            let keepAlive = request.keepAlive && !state.withLock { $0.stopped }
            guard send(connection, response.serialized(keepAlive: keepAlive)), keepAlive else { return }
        }
    }

    /// Answers a request that cannot be served with its error status, as a Redfish error, and no keep-alive.
    private func refuse(_ connection: Int32, peer: String, _ error: HTTPRequestError) {
        log("\(peer): refused request: \(error.status) \(error.reason)")
        let response = RedfishService.error(error.status, "Base.1.8.GeneralError", "Bad request: \(error.reason).")
        _ = send(connection, response.serialized(keepAlive: false))
    }

    /// Reads until `buffer` starts with a whole request head; `nil` when the peer closed or went idle first.
    /// The deadline returned is when the whole request (body included) must have arrived.
    private func readHead(
        _ connection: Int32, _ buffer: inout [UInt8]
    ) throws(HTTPRequestError) -> (request: HTTPRequest, consumed: Int, contentLength: Int, deadline: Date)? {
        // The clock starts at the request's first byte, not at the end of the previous response: idle
        // keep-alive time is governed by the idle timeout alone.
        var deadline = buffer.isEmpty ? nil : Date().addingTimeInterval(limits.requestSeconds)
        while true {
            if let head = try HTTPRequestParser.parseHead(buffer, limits: limits) {
                return (
                    head.request, head.consumed, head.contentLength,
                    deadline ?? Date().addingTimeInterval(limits.requestSeconds)
                )
            }
            if let deadline, Date() > deadline {
                throw HTTPRequestError(status: 408, reason: "request head did not arrive in time")
            }
            let hadBytes = !buffer.isEmpty
            guard receive(connection, into: &buffer) else {
                if !buffer.isEmpty && buffer.contains(where: { $0 != 13 && $0 != 10 }) {
                    log("connection closed or idle in the middle of a request head")
                }
                return nil
            }
            if !hadBytes && deadline == nil { deadline = Date().addingTimeInterval(limits.requestSeconds) }
        }
    }

    /// Appends what arrives to `buffer`; `false` on end of stream, idle timeout or error.
    private func receive(_ connection: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
                return true
            }
            if count < 0 && errno == EINTR { continue }
            return false
        }
    }

    /// Writes all of `bytes`; `false` if the peer went away. MSG_NOSIGNAL: a closed peer must not SIGPIPE us.
    private func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}
