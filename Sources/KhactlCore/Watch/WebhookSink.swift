import Foundation
import Logging

/// Posts every event's JSON object (the very object `khactl watch --output json` prints) to an HTTP
/// endpoint, `Content-Type: application/json`, with `Authorization: Bearer TOKEN` when a token is given.
///
/// Events go through a bounded queue (newest kept, drops counted and logged) drained by one worker, one
/// event at a time, in order. An attempt that fails to connect, times out or gets 408, 429 or 5xx is
/// retried with ``RetryPolicy`` backoff; any other answer outside 2xx (a 401 for a wrong token, a redirect,
/// which is not followed) and a TLS failure (an untrusted certificate, a wrong host name) fail the event at once. Either way the worker moves on to the next event.
package final class WebhookSink: QueuedSink {
    /// `webhook:URL` (without the query).
    package let name: String
    private let client: HTTPPost
    private let policy: RetryPolicy
    private let queue: SinkQueue<[UInt8]>
    private let logger: Logger

    /// Starts the sink. `timeout` bounds each attempt; `capacity` is the queue's size.
    /// `caFile` (PEM CA certificates) replaces the system's trust store for https.
    package init(
        target: WebhookTarget, token: WebhookToken?, policy: RetryPolicy = .webhookDefault,
        timeout: Duration = .seconds(5), capacity: Int = 256, caFile: String? = nil, logger: Logger
    ) throws(WebhookError) {
        let name = "webhook:\(target)"
        self.name = name
        var headers: [HTTPPost.HeaderField] = []
        if let token { headers.append(HTTPPost.HeaderField(name: "Authorization", value: "Bearer \(token.value)")) }
        self.client = try HTTPPost(target: target, headers: headers, timeout: timeout, caFile: caFile)
        self.policy = policy
        var logger = logger
        logger[metadataKey: "sink"] = "\(name)"
        self.logger = logger
        self.queue = SinkQueue(capacity: capacity) { [logger] dropped in
            logger.warning("queue full (\(capacity) events): dropped the oldest event, \(dropped) dropped so far")
        }
        queue.start { [client, policy, logger] body in
            await WebhookSink.post(body, client: client, policy: policy, logger: logger)
        }
    }

    /// Queues the record's JSON line.
    package func deliver(_ record: WatchRecord) {
        queue.enqueue(Array(record.json.line.utf8))
    }

    /// Stops intake, posts what is queued for at most `grace`, and returns the counts.
    package func finish(within grace: Duration) async -> SinkSummary {
        let summary = await queue.finish(within: grace)
        await client.close()
        return summary
    }

    /// Whether an answer with `status` is worth another attempt: 408, 429 and 5xx.
    package static func isRetryable(status: Int) -> Bool {
        status == 408 || status == 429 || (500...599).contains(status)
    }

    /// Delivers one body with retries.
    private static func post(_ body: [UInt8], client: HTTPPost, policy: RetryPolicy, logger: Logger) async
        -> SinkQueue<[UInt8]>.Outcome
    {
        var attempt = 1
        while true {
            let problem: String
            do {
                let status = try await client.send(body)
                if (200...299).contains(status) {
                    logger.trace("delivered", metadata: ["attempt": "\(attempt)", "status": "\(status)"])
                    return .init(result: .delivered, retries: attempt - 1)
                }
                guard isRetryable(status: status) else {
                    logger.warning("event refused with HTTP \(status); not retried")
                    return .init(result: .failed, retries: attempt - 1)
                }
                problem = "HTTP \(status)"
            } catch {
                if error.code == .cancelled || Task.isCancelled { return .init(result: .abandoned, retries: attempt - 1) }
                if error.code == .tls {
                    // An untrusted certificate does not heal in seconds; nothing (no token) was sent.
                    logger.warning("event not delivered: \(error.message)")
                    return .init(result: .failed, retries: attempt - 1)
                }
                problem = error.message
            }
            guard attempt < policy.attempts else {
                logger.warning("event not delivered after \(attempt) attempt(s): \(problem)")
                return .init(result: .failed, retries: attempt - 1)
            }
            let pause = policy.delay(after: attempt)
            logger.debug("attempt \(attempt) failed (\(problem)); retrying in \(pause.milliseconds) ms")
            do {
                try await Task.sleep(for: pause)
            } catch {
                return .init(result: .abandoned, retries: attempt - 1)
            }
            attempt += 1
        }
    }
}
