import Foundation
import Synchronization

/// One event of Pacemaker's alert framework (a resource operation, a node joining or leaving, a fencing
/// action, an attribute change), as the `CRM_alert_*` environment Pacemaker gives its alert agents.
///
/// khactl registers itself as an alert agent (`khactl alert install`); run that way it forwards the
/// environment over a local datagram socket to the watcher on its node, which shares it with every
/// watcher through their CPG group, so `--leader-only` delivers it once per cluster.
public struct PacemakerAlert: Hashable, Sendable, Codable {
    /// The `CRM_alert_*` variables as Pacemaker set them.
    public var environment: [String: String]
    /// The node whose Pacemaker ran the agent.
    public var from: String

    /// The environment variable that makes `khactl` an alert agent.
    public static let kindVariable = "CRM_alert_kind"
    /// Where agents send and watchers listen, unless `KHACTL_ALERT_SOCKET` says otherwise.
    public static let defaultSocket = "/run/khactl/alerts.sock"

    public init(environment: [String: String], from: String) {
        self.environment = environment.filter { $0.key.hasPrefix("CRM_alert_") }
        self.from = from
    }

    /// `resource`, `node`, `fencing` or `attribute`.
    public var kind: String { environment["CRM_alert_kind"] ?? "unknown" }

    /// Node and fencing alerts run on every node; this key (the same on each) lets watchers keep one.
    var duplicateKey: String? {
        let e = environment
        switch kind {
        case "node": return "node|\(e["CRM_alert_node"] ?? "")|\(e["CRM_alert_desc"] ?? "")"
        case "fencing": return "fencing|\(e["CRM_alert_node"] ?? "")|\(e["CRM_alert_task"] ?? "")|\(e["CRM_alert_rc"] ?? "")|\(e["CRM_alert_desc"] ?? "")"
        case "attribute": return "attribute|\(e["CRM_alert_node"] ?? "")|\(e["CRM_alert_attribute_name"] ?? "")|\(e["CRM_alert_attribute_value"] ?? "")"
        default: return nil
        }
    }

    /// The event's fields for sinks.
    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["from": .string(from)]
        let names: [(String, String)] = [
            ("CRM_alert_node", "target"), ("CRM_alert_nodeid", "targetID"), ("CRM_alert_desc", "desc"),
            ("CRM_alert_rsc", "resource"), ("CRM_alert_task", "task"), ("CRM_alert_interval", "interval"),
            ("CRM_alert_rc", "rc"), ("CRM_alert_target_rc", "targetRC"), ("CRM_alert_status", "status"),
            ("CRM_alert_attribute_name", "attribute"), ("CRM_alert_attribute_value", "value"),
            ("CRM_alert_timestamp", "alertTimestamp"),
        ]
        for (variable, name) in names {
            if let value = environment[variable] { fields[name] = .string(value) }
        }
        return fields
    }

    /// One line for people.
    var text: String {
        let e = environment
        switch kind {
        case "resource":
            return "resource \(e["CRM_alert_rsc"] ?? "?") \(e["CRM_alert_task"] ?? "?") on \(e["CRM_alert_node"] ?? "?"): \(e["CRM_alert_desc"] ?? "?")"
        case "node":
            return "node \(e["CRM_alert_node"] ?? "?") is now \(e["CRM_alert_desc"] ?? "?")"
        case "fencing":
            return "fencing \(e["CRM_alert_task"] ?? "?") of \(e["CRM_alert_node"] ?? "?"): \(e["CRM_alert_desc"] ?? "?")"
        case "attribute":
            return "attribute \(e["CRM_alert_attribute_name"] ?? "?") on \(e["CRM_alert_node"] ?? "?") = \(e["CRM_alert_attribute_value"] ?? "")"
        default:
            return "alert \(kind)"
        }
    }

    func encoded() -> [UInt8] {
        Array((try? JSONEncoder().encode(self)) ?? Data())
    }

    static func decode(_ bytes: [UInt8]) -> PacemakerAlert? {
        try? JSONDecoder().decode(PacemakerAlert.self, from: Data(bytes))
    }

    /// The socket path from the environment (`KHACTL_ALERT_SOCKET`, set as an alert instance attribute).
    static func socketPath(_ environment: [String: String]) -> String {
        environment["KHACTL_ALERT_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultSocket
    }

    /// khactl run as an alert agent: sends the alert to the watcher on this node. Pacemaker does not wait
    /// on it beyond the send; with no watcher listening the alert is dropped (exit status 0, a line on
    /// standard error that Pacemaker logs).
    public static func forward(environment: [String: String]) -> Int32 {
        let alert = PacemakerAlert(environment: environment, from: ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "")
        let path = socketPath(environment)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return 1 }
        defer { close(fd) }
        var address = sockaddr_un()
        guard AlertSocket.fill(&address, path) else { return 1 }
        let bytes = alert.encoded()
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, pointer, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        if sent < 0 {
            FileHandle.standardError.write(Data("khactl alert agent: no watcher at \(path) (\(String(cString: strerror(errno)))); alert dropped\n".utf8))
        }
        return 0
    }
}

/// The watcher's end: a datagram socket alert agents send to, readable by Pacemaker's `haclient` group.
// @unchecked Sendable: every stored property is a constant; the dispatch source is thread-safe.
final class AlertSocket: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let source: DispatchSourceRead

    /// Binds `path` (replacing a stale socket) and calls `handler` with each alert received.
    init(path: String, handler: @escaping @Sendable (PacemakerAlert) -> Void) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let group = getgrnam("haclient")?.pointee.gr_gid
        if let group, folder != "/run" && folder != "/tmp" {
            chown(folder, 0, group)
            chmod(folder, 0o750)
        }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw CLIError("cannot make the alert socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        guard Self.fill(&address, path) else {
            Glibc.close(fd)
            throw CLIError("alert socket path too long: \(path)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw CLIError("cannot listen for alerts on \(path): \(reason)")
        }
        // Pacemaker runs alert agents as hacluster:haclient.
        if let group { chown(path, 0, group) }
        chmod(path, 0o660)
        self.fd = fd
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "khactl.alerts"))
        source.setEventHandler {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard count > 0 else { break }
                if let alert = PacemakerAlert.decode(Array(buffer[0..<count])) { handler(alert) }
            }
        }
        source.setCancelHandler { Glibc.close(fd) }
        source.resume()
        self.source = source
    }

    func close() {
        source.cancel()
        unlink(path)
    }

    static func fill(_ address: inout sockaddr_un, _ path: String) -> Bool {
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return true
    }
}

/// Keeps one of each node or fencing alert that every node's Pacemaker raises, within a window.
struct AlertDeduplicator: Sendable {
    private var seen: [String: ContinuousClock.Instant] = [:]
    let window: Duration

    init(window: Duration = .seconds(10)) { self.window = window }

    /// Whether `alert` is new (and remembers it).
    mutating func admit(_ alert: PacemakerAlert, now: ContinuousClock.Instant = .now) -> Bool {
        seen = seen.filter { now - $0.value < window }
        guard let key = alert.duplicateKey else { return true }
        if seen[key] != nil { return false }
        seen[key] = now
        return true
    }
}
