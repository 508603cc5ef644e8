import Corosync
import Foundation
import Synchronization

/// Runs an existing Pacemaker alert agent (`/usr/share/pacemaker/alerts/alert_file.sh.sample`,
/// `alert_smtp.sh.sample`, your own) for cluster events, with the standard `CRM_alert_*` environment,
/// so agents written for Pacemaker's alert framework work unmodified.
///
/// Corosync membership changes become `node` alerts (`CRM_alert_desc` `member` or `lost`), as Pacemaker
/// sends them. Events queue in a bounded buffer drained by one task: a slow or failing agent never holds
/// up event intake; when the buffer is full the oldest events are dropped and counted.
public final class AlertAgentSink: Sendable {
    /// The agent's path.
    public let path: String
    /// `CRM_alert_recipient` (for alert_file: the file to append to).
    public let recipient: String
    /// How long one agent run may take.
    public let timeout: TimeInterval
    private let continuation: AsyncStream<[String: String]>.Continuation
    private let counters = Mutex((sequence: 0, dropped: 0, failed: 0))
    private let drained: Task<Void, Never>

    /// Starts the sink.
    public init(path: String, recipient: String, timeout: TimeInterval = 30, capacity: Int = 1000) {
        self.path = path
        self.recipient = recipient
        self.timeout = timeout
        let (stream, continuation) = AsyncStream<[String: String]>.makeStream(bufferingPolicy: .bufferingNewest(capacity))
        self.continuation = continuation
        let counters = Counters()
        self.drained = Task.detached {
            for await environment in stream {
                do {
                    try ExternalCommand(argv: [path], environment: environment).run(timeout: timeout)
                } catch {
                    counters.failures.withLock { $0 += 1 }
                    FileHandle.standardError.write(Data("khactl watch: alert agent \(path) failed: \(error)\n".utf8))
                }
            }
        }
    }

    private final class Counters: Sendable {
        let failures = Mutex(0)
    }

    /// Events dropped because the buffer was full.
    public var dropped: Int { counters.withLock { $0.dropped } }

    /// Queues the alerts for `event` seen on `node`; `names` maps node ids to names.
    public func deliver(_ event: ClusterEvent, names: [NodeID: String]) {
        for alert in AlertAgentSink.alerts(for: event, names: names) {
            let sequence = counters.withLock { counters -> Int in
                counters.sequence += 1
                return counters.sequence
            }
            var environment = alert
            environment["CRM_alert_version"] = Khactl.version
            environment["CRM_alert_recipient"] = recipient
            environment["CRM_alert_node_sequence"] = String(sequence)
            environment["CRM_alert_timestamp"] = AlertAgentSink.timestamp()
            if case .dropped = continuation.yield(environment) {
                counters.withLock { $0.dropped += 1 }
            }
        }
    }

    /// Stops taking events and waits until the queued ones have run.
    public func finish() async {
        continuation.finish()
        await drained.value
    }

    /// The `CRM_alert_*` variables (without the common ones) of the alerts `event` stands for.
    public static func alerts(for event: ClusterEvent, names: [NodeID: String]) -> [[String: String]] {
        if case .alert(let alert) = event {
            // Pacemaker's own alert, passed on as Pacemaker gave it (the common variables are set per run).
            return [alert.environment.filter { !["CRM_alert_recipient", "CRM_alert_node_sequence", "CRM_alert_timestamp", "CRM_alert_version"].contains($0.key) }]
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
