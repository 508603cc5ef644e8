import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The webhook sink's HTTP client: AsyncHTTPClient (SwiftNIO), `http://` or `https://`.
///
/// HTTPS verifies the receiver's certificate and host name against the system's trust store, or only against
/// the CA certificates of `--webhook-ca-file`. Connections are kept and reused between events. Nothing comes
/// from the environment (no proxy), redirects are never followed (the bearer token must not go anywhere else),
/// and each attempt has one deadline (connect, send, response head and body).
final class HTTPPost: Sendable {
    /// Where to post.
    let target: WebhookTarget
    /// Extra header fields (after Content-Type and User-Agent).
    let headers: [HeaderField]
    /// The limit for one attempt.
    let timeout: Duration
    private let client: HTTPClient

    /// A header field.
    struct HeaderField: Sendable {
        let name: String
        let value: String
    }

    /// A client for `target`; `caFile` (PEM) replaces the system's trust store for https.
    init(target: WebhookTarget, headers: [HeaderField], timeout: Duration, caFile: String? = nil) throws(WebhookError) {
        self.target = target
        self.headers = headers
        self.timeout = timeout
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw WebhookError(.invalidURL, "--webhook-ca-file \(caFile): not a readable PEM file of CA certificates (\(error))")
            }
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(timeout.nanoseconds), read: .nanoseconds(timeout.nanoseconds)), proxy: nil)
        configuration.httpVersion = .http1Only
        // A refused connection fails the attempt at once (the sink's retry policy decides what follows), instead of
        // the pool trying again until the attempt's deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Posts `body` as `application/json`; returns the response's status code.
    func send(_ body: [UInt8]) async throws(WebhookError) -> Int {
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "khactl/\(Product.version)")
        request.headers.add(name: "Content-Type", value: "application/json")
        for field in headers { request.headers.add(name: field.name, value: field.value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, deadline: .now() + .nanoseconds(timeout.nanoseconds))
            // The body is read (and dropped) so that the connection can be reused; at most 64 KiB of it.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return Int(response.status.code)
        } catch {
            throw Self.webhookError(error, target: target)
        }
    }

    /// Closes the kept connections.
    func close() async {
        try? await client.shutdown()
    }

    /// A client error as the sink reports it: TLS problems (an unknown CA, a wrong host name) by name, which
    /// are not retried.
    static func webhookError(_ error: any Error, target: WebhookTarget) -> WebhookError {
        if error is CancellationError { return WebhookError(.cancelled, "cancelled") }
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout:
                return WebhookError(.timeout, "\(target.hostHeader) did not answer in time")
            case .cancelled:
                return WebhookError(.cancelled, "cancelled")
            default:
                break
            }
        }
        let text = String(describing: error)
        if error is NIOSSLError || error is BoringSSLError || text.contains("handshakeFailed") || text.contains("certificate")
            || text.contains("Certificate") || text.contains("hostname")
        {
            return WebhookError(.tls, "TLS with \(target.hostHeader) failed: \(text) (the receiver's certificate is not trusted; --webhook-ca-file names a private CA)")
        }
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return WebhookError(.connect, "cannot connect to \(target.hostHeader): Connection refused")
        }
        if text.contains("connect") {
            return WebhookError(.connect, "cannot connect to \(target.hostHeader): \(text)")
        }
        return WebhookError(.io, "posting to \(target.hostHeader) failed: \(text)")
    }
}

