import Foundation
import Synchronization

/// One event of Pacemaker's alert framework (a resource operation, a node joining or leaving, a fencing
/// action, an attribute change), as the `CRM_alert_*` environment Pacemaker gives its alert agents.
///
/// khactl registers itself as an alert agent (`khactl alert install`); run that way it forwards the
/// environment over a local datagram socket to the watcher on its node, which shares it with every
/// watcher through their CPG group, so `--leader-only` delivers it once per cluster.
package struct PacemakerAlert: Hashable, Sendable, Codable {
    /// The `CRM_alert_*` variables as Pacemaker set them.
    package var environment: [String: String]
    /// The node whose Pacemaker ran the agent.
    package var from: String

    /// The environment variable that makes `khactl` an alert agent.
    package static let kindVariable = "CRM_alert_kind"
    /// Where agents send and watchers listen, unless `KHACTL_ALERT_SOCKET` says otherwise.
    package static let defaultSocket = "/run/khactl/alerts.sock"

    package init(environment: [String: String], from: String) {
        self.environment = PacemakerAlert.alertVariables(environment)
        self.from = String(from.prefix(255))
    }

    private enum CodingKeys: String, CodingKey { case environment, from }

    /// Decoded alerts (from the socket or from another watcher) keep only `CRM_alert_*` variables too: nothing
    /// else, `LD_PRELOAD` and `PATH` included, ever reaches an agent from an alert.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            environment: try container.decode([String: String].self, forKey: .environment),
            from: try container.decode(String.self, forKey: .from))
    }

    /// At most 64 `CRM_alert_*` variables (names `CRM_alert_` + letters, digits and `_`), values up to 4 KiB.
    static func alertVariables(_ environment: [String: String]) -> [String: String] {
        var kept: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix("CRM_alert_") && name.count <= 64 && value.utf8.count <= 4096 {
            guard name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) })
            else { continue }
            kept[name] = value
            if kept.count == 64 { break }
        }
        return kept
    }

    /// `resource`, `node`, `fencing` or `attribute`.
    package var kind: String { environment["CRM_alert_kind"] ?? "unknown" }

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
    package static func forward(environment: [String: String]) -> Int32 {
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

/// The watcher's end: a datagram socket alert agents send to, writable by Pacemaker's `haclient` group.
///
/// Every datagram carries its sender's credentials, put there by the kernel (`SO_PASSCRED`, `SCM_CREDENTIALS`:
/// a process cannot claim another uid): only root and the `hacluster` user, as whom Pacemaker runs alert agents,
/// are heard. Anything else, from any other member of `haclient`, is refused and logged. At most
/// ``AlertSocket/rate`` alerts per second are taken (a burst of twice that): a flood cannot grow memory or hold
/// the watcher up; what is over is dropped and counted.
// @unchecked Sendable: every stored property is a constant; the dispatch source is thread-safe, and the counters
// are only touched on its serial queue.
final class AlertSocket: @unchecked Sendable {
    /// Alerts per second taken from the socket.
    static let rate = 200.0

    let path: String
    private let fd: Int32
    private let source: DispatchSourceRead

    /// The users whose alerts are heard: root and hacluster.
    static var trustedUIDs: Set<uid_t> {
        var uids: Set<uid_t> = [0]
        if let hacluster = getpwnam("hacluster")?.pointee.pw_uid { uids.insert(hacluster) }
        return uids
    }

    /// Binds `path` (replacing a stale socket) and calls `handler` with each alert received from a trusted
    /// sender; `refused` with each refusal (uid and why), to log.
    init(
        path: String, handler: @escaping @Sendable (PacemakerAlert) -> Void,
        refused: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
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
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, PeerCredentials.soPassCred, &on, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        let trusted = Self.trustedUIDs
        var bucket = (tokens: 2 * Self.rate, at: ContinuousClock.now)
        var refusals = 0
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "khactl.alerts"))
        source.setEventHandler {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                guard let (count, sender) = Self.receive(fd, &buffer) else { break }
                let now = ContinuousClock.now
                bucket.tokens = min(2 * Self.rate, bucket.tokens + (now - bucket.at).seconds * Self.rate)
                bucket.at = now
                func refuse(_ why: String) {
                    refusals += 1
                    // Logged on the 1st, 2nd, 4th, 8th, ... refusal: a flood cannot flood the log either.
                    if refusals & (refusals - 1) == 0 { refused("\(why) (\(refusals) refused so far)") }
                }
                guard let sender, trusted.contains(sender.uid) else {
                    refuse(sender.map { "alert datagram from uid \($0.uid) (pid \($0.pid)) refused: only root and hacluster may send alerts" }
                        ?? "alert datagram without credentials refused")
                    continue
                }
                guard bucket.tokens >= 1 else {
                    refuse("alert from pid \(sender.pid) dropped: more than \(Int(Self.rate)) alerts per second")
                    continue
                }
                bucket.tokens -= 1
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

    /// One datagram and its sender's credentials (nil when the kernel attached none), or nil when none is waiting.
    static func receive(_ fd: Int32, _ buffer: inout [UInt8]) -> (Int, PeerCredentials?)? {
        let controlSize = MemoryLayout<cmsghdr>.size + MemoryLayout<PeerCredentials>.size + 16
        var control = [UInt8](repeating: 0, count: controlSize)
        return buffer.withUnsafeMutableBytes { data -> (Int, PeerCredentials?)? in
            control.withUnsafeMutableBytes { controlBytes -> (Int, PeerCredentials?)? in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer -> (Int, PeerCredentials?)? in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let count = recvmsg(fd, &message, Int32(MSG_DONTWAIT))
                    guard count >= 0 else { return nil }
                    // The credentials sit in the first control message (SOL_SOCKET, SCM_CREDENTIALS).
                    guard message.msg_controllen >= MemoryLayout<cmsghdr>.size, let base = controlBytes.baseAddress else { return (count, nil) }
                    let header = base.load(as: cmsghdr.self)
                    guard header.cmsg_level == SOL_SOCKET, header.cmsg_type == PeerCredentials.scmCredentials,
                        header.cmsg_len >= MemoryLayout<cmsghdr>.size + MemoryLayout<PeerCredentials>.size
                    else { return (count, nil) }
                    // cmsghdr is 16 bytes on 64-bit Linux, already aligned for ucred.
                    let credentials = base.loadUnaligned(fromByteOffset: MemoryLayout<cmsghdr>.size, as: PeerCredentials.self)
                    return (count, credentials)
                }
            }
        }
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

/// Linux's `struct ucred` (pid, uid, gid), which glibc declares only under _GNU_SOURCE, and the constants that
/// go with it (`SO_PASSCRED`, `SCM_CREDENTIALS`).
struct PeerCredentials {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32

    static let soPassCred: Int32 = 16
    static let scmCredentials: Int32 = 2
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
