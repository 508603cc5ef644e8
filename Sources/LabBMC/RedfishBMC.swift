import ClusterExec
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// An emulated BMC for lab nodes: an HTTPS (or, for tests, plain HTTP) server on Hummingbird that speaks
/// the part of Redfish the stock `fence_redfish` agent uses, and turns its reset actions into calls on a
/// ``PowerControl``.
///
/// It serves `GET /redfish/v1` (service root), `GET /redfish/v1/Systems` (one member),
/// `GET /redfish/v1/Systems/ID` (`PowerState` and the `#ComputerSystem.Reset` action target) and
/// `POST /redfish/v1/Systems/ID/Actions/ComputerSystem.Reset` with `{"ResetType": ...}` (answered `204`
/// after the power call returns). Everything below the service root needs HTTP basic auth with
/// ``BMCCredentials``. TLS is terminated in-process (NIOSSL) with the certificate and key of a PEM file.
///
/// Connections idle for ``idleTimeout`` are closed and request bodies are bounded (`413` past 64 KiB); a
/// malformed request gets a `4xx` from the HTTP parser and a closed connection.
package final class RedfishBMC: Sendable {
    /// The address to listen on, as given (`127.0.0.1`, `::1`, `0.0.0.0`, ...).
    package let host: String
    private let requestedPort: UInt16
    private let service: RedfishService
    private let log: @Sendable (String) -> Void
    private let tls: TLSConfiguration?
    private let idleTimeout: Duration
    private let state = Mutex(ServerState())

    /// The largest request body read; a reset request is about 30 bytes.
    static let maxBodyBytes = 64 * 1024

    private struct ServerState {
        var port: UInt16 = 0
        var task: Task<Void, any Error>?
        var group: ServiceGroup?
        var stopped = false
    }

    /// A BMC for one system.
    ///
    /// - Parameters:
    ///   - host: the numeric address to listen on.
    ///   - port: the TCP port; `0` picks a free one, readable from ``port`` after ``start()``.
    ///   - tlsPEM: a PEM file with the certificate and its private key (``BMCCertificate``); `nil` serves
    ///     plain HTTP, which `fence_redfish` does not speak (tests only).
    ///   - credentials: the account clients must send.
    ///   - systemID: the system's `Id` and last path segment (letters, digits, `.`, `_`, `-`).
    ///   - power: what reset actions and `PowerState` reads call.
    ///   - idleTimeout: how long a connection may sit idle before it is closed.
    ///   - log: receives one line per request and per power action; never a password or header value.
    package init(
        host: String, port: UInt16, tlsPEM: String? = nil, credentials: BMCCredentials, systemID: String = "1",
        power: any PowerControl, idleTimeout: Duration = .seconds(30), log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        precondition(
            !systemID.isEmpty
                && systemID.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) },
            "a Redfish system ID must be letters, digits, '.', '_' or '-': \(systemID)")
        self.host = host
        self.requestedPort = port
        self.log = log
        self.idleTimeout = idleTimeout
        self.service = RedfishService(credentials: credentials, systemID: systemID, power: power, log: log)
        if let tlsPEM {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tlsPEM).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tlsPEM, format: .pem)
                tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            } catch {
                throw LabBMCError(
                    .configuration, "cannot read the certificate and key in \(tlsPEM): \(error)", underlying: error)
            }
        } else {
            tls = nil
        }
    }

    /// The port being listened on (the chosen one when created with port `0`); `0` before ``start()``.
    package var port: UInt16 { state.withLock { $0.port } }

    /// The path `fence_redfish --systems-uri` would name; clients can also discover it from the service root.
    package var systemPath: String { service.systemPath }

    /// Binds and listens, then serves in the background; returns once connections are accepted.
    ///
    /// Throws ``LabBMCError`` (`.listen`) when the address cannot be bound. Call it once.
    package func start() async throws {
        let (running, signalRunning) = AsyncStream<UInt16>.makeStream()
        let service = service
        let log = log
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            await Self.respond(to: request, service: service, log: log)
        }
        let http = HTTP1Channel.Configuration(idleTimeout: .nanoseconds(idleTimeout.nanoseconds))
        var logger = Logger(label: "khactl.lab.bmc")
        logger.logLevel = .critical
        let app = Application(
            responder: responder,
            server: try tls.map { try .tls(.http1(configuration: http), tlsConfiguration: $0) } ?? .http1(configuration: http),
            configuration: ApplicationConfiguration(address: .hostname(host, port: Int(requestedPort)), serverName: nil),
            onServerRunning: { channel in
                signalRunning.yield(UInt16(channel.localAddress?.port ?? 0))
                signalRunning.finish()
            },
            logger: logger)
        // Stopped by a graceful shutdown, not by cancelling: cancelling NIO's server while an accepted
        // connection is still queued traps ("Deinited NIOAsyncWriter without calling finish()", swift-nio #3481).
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
        let task = Task {
            defer { signalRunning.finish() }
            try await group.run()
        }
        state.withLock {
            precondition($0.task == nil, "RedfishBMC.start() called twice")
            $0.task = task
            $0.group = group
        }
        var iterator = running.makeAsyncIterator()
        guard let port = await iterator.next() else {
            let reason: String
            do {
                try await task.value
                reason = "the server stopped at once"
            } catch {
                reason = String(describing: error)
            }
            throw LabBMCError(
                .listen,
                "cannot listen on \(Self.display(host: host, port: requestedPort)): \(reason); "
                    + "pick a free port or an address this host has")
        }
        state.withLock { $0.port = port }
        log("listening on \(Self.display(host: host, port: port))\(tls == nil ? " (plain HTTP)" : " (HTTPS)")")
    }

    /// Stops accepting, ends open connections and waits for the server to finish. Safe to call more than
    /// once, or without ``start()``.
    package func stop() async {
        let running: (Task<Void, any Error>, ServiceGroup)? = state.withLock { state in
            guard !state.stopped, let task = state.task, let group = state.group else { return nil }
            state.stopped = true
            return (task, group)
        }
        guard let (task, group) = running else { return }
        await group.triggerGracefulShutdown()
        // A connection that stays open past the grace period is cut.
        let deadline = Task {
            try await Task.sleep(for: .seconds(5))
            task.cancel()
        }
        _ = try? await task.value
        deadline.cancel()
        log("stopped")
    }

    private static func respond(
        to request: Request, service: RedfishService, log: @Sendable (String) -> Void
    ) async -> Response {
        var path = request.uri.path.removingPercentEncoding ?? request.uri.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: maxBodyBytes)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            log("\(request.method.rawValue) \(path) -> 413 (body over \(maxBodyBytes) bytes)")
            return response(
                RedfishService.error(413, "Base.1.8.GeneralError", "The request body exceeds \(maxBodyBytes) bytes."))
        }
        let redfish = RedfishRequest(
            method: request.method.rawValue, path: path, authorization: request.headers[.authorization], body: body)
        let answer = await service.respond(to: redfish)
        log("\(redfish.method) \(path) -> \(answer.status)")
        return response(answer)
    }

    private static func response(_ answer: RedfishResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        fields[.cacheControl] = "no-store"
        let status = HTTPResponse.Status(code: answer.status)
        guard answer.status != 204 else { return Response(status: status, headers: fields) }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    private static func display(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
