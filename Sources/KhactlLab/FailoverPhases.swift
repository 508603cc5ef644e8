import Foundation
import KhactlCore

/// Where a failover's time went, read from the survivors' own corosync and pacemaker logs: each daemon
/// stamps its lines with the host's wall clock to the millisecond, and lab nodes share the host's clock, so
/// each phase is a time since the fault. A phase a log does not show stays `nil`.
package struct FailoverPhases: Hashable, Sendable {
    /// corosync: the token was lost ("A processor failed, forming new configuration").
    package var tokenLost: Double?
    /// corosync: a membership without the victim was formed.
    package var membership: Double?
    /// pacemaker-controld (the DC): fencing of the victim requested.
    package var fenceRequested: Double?
    /// pacemaker-controld: the victim's fencing confirmed ("Peer ... was terminated").
    package var fenceConfirmed: Double?
    /// pacemaker-controld: the resource's start issued on its new node.
    package var startIssued: Double?
    /// pacemaker-controld: the scheduler calculated its first transition after the fault.
    package var scheduled: Double?

    package init() {}

    /// The phases of the failover that began at `fault` (wall clock), from the text of the survivors'
    /// corosync logs and pacemaker logs. `victim` is the node name, `resource` the resource whose start
    /// counts.
    package static func read(
        corosyncLogs: [String], pacemakerLogs: [String], since fault: Date, victim: String, resource: String
    ) -> FailoverPhases {
        var phases = FailoverPhases()
        // Each log split once; each phase then looks for its first line after the fault.
        let corosync = corosyncLogs.map { $0.split(separator: "\n") }
        let pacemaker = pacemakerLogs.map { $0.split(separator: "\n") }
        let formatter = timestampFormatter()
        func first(_ logs: [[Substring]], _ matches: (Substring) -> Bool) -> Double? {
            var earliest: Double?
            for lines in logs {
                for line in lines where matches(line) {
                    guard let time = timestamp(of: line, near: fault, formatter) else { continue }
                    let offset = time.timeIntervalSince(fault)
                    // Lines stamped before the fault belong to earlier rounds.
                    guard offset >= -0.001 else { continue }
                    if earliest.map({ offset < $0 }) ?? true { earliest = offset }
                    break
                }
            }
            return earliest
        }
        phases.tokenLost = first(corosync) { $0.contains("[TOTEM ] A processor failed, forming new configuration") }
        phases.membership = first(corosync) { $0.contains("[TOTEM ] A new membership (") && $0.contains("Members left:") }
        phases.fenceRequested = first(pacemaker) {
            $0.contains("pacemaker-controld") && $0.contains("Requesting fencing (") && $0.contains(" of node \(victim) ")
        }
        phases.fenceConfirmed = first(pacemaker) {
            $0.contains("pacemaker-controld") && $0.contains("Peer \(victim) was terminated (")
        }
        phases.startIssued = first(pacemaker) {
            $0.contains("pacemaker-controld") && $0.contains("Initiating start operation \(resource)_start_0 ")  // "on NODE", or "locally on NODE" on the DC
        }
        phases.scheduled = first(pacemaker) {
            $0.contains("pacemaker-schedulerd") && $0.contains("Calculated transition ")
        }
        return phases
    }

    /// The time of a log line starting `Dec 03 16:42:45.019` (corosync and pacemaker both write this), in the
    /// year of `near` (a line from the last days of December read on New Year's Day is put in the year before).
    static func timestamp(of line: Substring, near reference: Date, _ formatter: DateFormatter) -> Date? {
        guard line.count >= 19 else { return nil }
        let text = String(line.prefix(19))
        let year = Calendar.current.component(.year, from: reference)
        guard let date = formatter.date(from: "\(year) \(text)") else { return nil }
        if date.timeIntervalSince(reference) > 180 * 86_400 { return formatter.date(from: "\(year - 1) \(text)") }
        return date
    }

    /// The formatter for the logs' `Dec 03 16:42:45.019` stamps (with the year put in front).
    static func timestampFormatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy MMM dd HH:mm:ss.SSS"
        return formatter
    }

    /// Every phase once: its JSON key, its words in the drill's text, and where it is kept.
    package static var fields: [(key: String, words: String, value: KeyPath<FailoverPhases, Double?>)] {
        [
            ("tokenLost", "token lost", \.tokenLost), ("membership", "membership", \.membership),
            ("fenceRequested", "fence requested", \.fenceRequested), ("fenceConfirmed", "fence confirmed", \.fenceConfirmed),
            ("scheduled", "scheduled", \.scheduled), ("startIssued", "start issued", \.startIssued),
        ]
    }

    /// `; token lost 1.102 s, membership 1.120 s, ...` for the drill's text, or "" when no log showed any.
    var text: String {
        let parts = Self.fields.compactMap { field in
            self[keyPath: field.value].map { "\(field.words) \(String(format: "%.3f", $0)) s" }
        }
        return parts.isEmpty ? "" : "; " + parts.joined(separator: ", ")
    }

    /// The phases as JSON members (seconds since the fault, `null` where a log did not show it).
    package var json: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: Self.fields.map { field in
            (field.key, self[keyPath: field.value].map { JSONValue.seconds($0) } ?? .null)
        })
    }
}
