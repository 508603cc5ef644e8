import ClusterExec
import Corosync
import Foundation
import Logging
import Synchronization

/// Runs an existing Pacemaker alert agent (`/usr/share/pacemaker/alerts/alert_file.sh.sample`,
/// `alert_smtp.sh.sample`, your own) for cluster events, with the standard `CRM_alert_*` environment,
/// so agents written for Pacemaker's alert framework work unmodified.
///
/// Corosync membership changes become `node` alerts (`CRM_alert_desc` `member` or `lost`), as Pacemaker
/// sends them. Alerts queue in a bounded buffer drained by one worker: a slow or failing agent never holds
/// up event intake; when the buffer is full the oldest alerts are dropped and counted. Each agent run
/// blocks a Dispatch thread, never one of Swift's cooperative threads.
package final class AlertAgentSink: QueuedSink {
    /// The agent's path.
    package let path: String
    /// `CRM_alert_recipient` (for alert_file: the file to append to).
    package let recipient: String
    /// How long one agent run may take.
    package let timeout: TimeInterval
    /// `exec:PATH`.
    package var name: String { "exec:\(path)" }
    private let names: [NodeID: String]
    private let sequence = Mutex(0)
    private let queue: SinkQueue<[String: String]>

    /// Starts the sink; `names` maps node ids to node names for `CRM_alert_node`.
    package init(
        path: String, recipient: String, names: [NodeID: String] = [:], timeout: TimeInterval = 30,
        capacity: Int = 256, logger: Logger = Logger(label: "khactl.watch")
    ) {
        self.path = path
        self.recipient = recipient
        self.timeout = timeout
        self.names = names
        var logger = logger
        logger[metadataKey: "sink"] = "exec:\(path)"
        self.queue = SinkQueue(capacity: capacity) { [logger] dropped in
            logger.warning("queue full (\(capacity) alerts): dropped the oldest alert, \(dropped) dropped so far")
        }
        queue.start { [logger] environment in
            // Output to a file, as Pacemaker runs agents: an agent that leaves a child behind holding its
            // stdout does not hold up the queue.
            let command = Command(
                path, environment: environment, timeout: .milliseconds(Int(timeout * 1000)), outputToFile: true)
            do {
                try await SubprocessRunner().check(command)
                return .init(result: .delivered, retries: 0)
            } catch {
                logger.warning("alert agent failed: \(error)")
                return .init(result: .failed, retries: 0)
            }
        }
    }

    /// Alerts dropped because the buffer was full.
    package var dropped: Int { queue.summary.dropped }

    /// Queues the alerts `record` stands for.
    package func deliver(_ record: WatchRecord) {
        for alert in AlertAgentSink.alerts(for: record.event, names: names) {
            let number = sequence.withLock { value -> Int in
                value += 1
                return value
            }
            var environment = alert
            environment["CRM_alert_version"] = Product.version
            environment["CRM_alert_recipient"] = recipient
            environment["CRM_alert_node_sequence"] = String(number)
            environment["CRM_alert_timestamp"] = AlertAgentSink.timestamp(record.time)
            queue.enqueue(environment)
        }
    }

    /// Stops taking events, lets queued alerts run for at most `grace`, and returns the counts. An agent
    /// still running then is left to finish on its own (within its timeout).
    package func finish(within grace: Duration) async -> SinkSummary {
        await queue.finish(within: grace)
    }

    /// The `CRM_alert_*` variables (without the common ones) of the alerts `event` stands for.
    package static func alerts(for event: ClusterEvent, names: [NodeID: String]) -> [[String: String]] {
        if case .alert(let alert) = event {
            // Pacemaker's own alert, passed on as Pacemaker gave it (the common variables are set per run).
            // Only CRM_alert_* variables, whatever the alert's source said.
            return [PacemakerAlert.alertVariables(alert.environment).filter {
                !["CRM_alert_recipient", "CRM_alert_node_sequence", "CRM_alert_timestamp", "CRM_alert_version"].contains($0.key)
            }]
        }
        guard case .membership(let change) = event else { return [] }
        func node(_ id: NodeID, _ description: String) -> [String: String] {
            [
                "CRM_alert_kind": "node", "CRM_alert_node": names[id] ?? String(id.rawValue),
                "CRM_alert_nodeid": String(id.rawValue), "CRM_alert_desc": description,
            ]
        }
        return change.joined.map { node($0, "member") } + change.left.map { node($0, "lost") }
    }

    /// Pacemaker's default alert timestamp format, `%H:%M:%S.%06N`.
    static func timestamp(_ date: Date = Date()) -> String {
        let seconds = Int(date.timeIntervalSince1970)
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        let micro = Int((date.timeIntervalSince1970 - Double(seconds)) * 1_000_000)
        return String(format: "%02d:%02d:%02d.%06d", parts.tm_hour, parts.tm_min, parts.tm_sec, micro)
    }
}
