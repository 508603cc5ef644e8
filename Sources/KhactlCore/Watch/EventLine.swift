import Corosync
import Foundation

extension WatchRecord {
    /// ``json``'s line and a newline, as UTF-8: the bytes `khactl watch --output json` prints.
    ///
    /// Membership, quorum and CPG events, the ones every membership change brings, are written straight
    /// from the event, without the dictionary, the value tree and the key sort that ``json`` costs: on a
    /// busy node each microsecond a watcher spends is a chance to be preempted, and corosync's events arrive
    /// when every daemon of the node wakes (measured against a C watcher by Scripts/bench.sh). Other events,
    /// and a group name that would need escaping, take the general path. Both give the same bytes (tested).
    package var jsonLine: [UInt8] {
        var line = EventLine()
        if line.write(event, node: node, time: time) {
            line.bytes.append(UInt8(ascii: "\n"))
            return line.bytes
        }
        return Array((json.line + "\n").utf8)
    }
}

/// A JSON line written byte by byte, keys in JSONEncoder's `.sortedKeys` order.
struct EventLine {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    /// Writes `event` as ``WatchRecord/json`` would; false (with nothing promised about ``bytes``) when the
    /// event needs the general path.
    mutating func write(_ event: ClusterEvent, node: NodeID, time: Date) -> Bool {
        switch event {
        case .membership(let change):
            append("{\"joined\":")
            ids(change.joined)
            append(",\"kind\":\"membership\",\"left\":")
            ids(change.left)
            append(",\"members\":")
            ids(change.members)
            tail(node: node, ringID: change.ringID, time: time)
        case .quorum(let state):
            append("{\"kind\":\"quorum\",\"members\":")
            ids(state.members)
            append(",\"node\":")
            number(UInt64(node.rawValue))
            append(state.quorate ? ",\"quorate\":true" : ",\"quorate\":false")
            append(",\"ringID\":\"")
            ring(state.ringID)
            append("\",\"time\":\"")
            Timestamp.rfc3339(time, into: &bytes)
            append("\"}")
        case .cpg(let change):
            // Group names are the one free text here; one that needs escaping goes the general way.
            let plain = change.group.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
            guard plain else { return false }
            append("{\"group\":\"")
            bytes.append(contentsOf: change.group.utf8)
            append("\",\"joined\":")
            changes(change.joined)
            append(",\"kind\":\"cpg\",\"left\":")
            changes(change.left)
            append(",\"members\":[")
            for (index, member) in change.members.enumerated() {
                if index > 0 { append(",") }
                self.member(member)
                append("}")
            }
            append("],\"node\":")
            number(UInt64(node.rawValue))
            append(",\"time\":\"")
            Timestamp.rfc3339(time, into: &bytes)
            append("\"}")
        default:
            return false
        }
        return true
    }

    private mutating func tail(node: NodeID, ringID: RingID, time: Date) {
        append(",\"node\":")
        number(UInt64(node.rawValue))
        append(",\"ringID\":\"")
        ring(ringID)
        append("\",\"time\":\"")
        Timestamp.rfc3339(time, into: &bytes)
        append("\"}")
    }

    /// `{"nodeID":N,"pid":P` (the caller closes or extends the object).
    private mutating func member(_ member: CPGMember) {
        append("{\"nodeID\":")
        number(UInt64(member.nodeID.rawValue))
        append(",\"pid\":")
        number(UInt64(member.pid))
    }

    private mutating func changes(_ list: [CPGMemberChange]) {
        append("[")
        for (index, change) in list.enumerated() {
            if index > 0 { append(",") }
            member(change.member)
            append(",\"reason\":\"")
            bytes.append(contentsOf: change.reason.description.utf8)  // fixed words, nothing to escape
            append("\"}")
        }
        append("]")
    }

    private mutating func ids(_ list: [NodeID]) {
        append("[")
        for (index, id) in list.enumerated() {
            if index > 0 { append(",") }
            number(UInt64(id.rawValue))
        }
        append("]")
    }

    private mutating func ring(_ ring: RingID) {
        number(UInt64(ring.nodeID.rawValue), radix: 16)
        append(".")
        number(ring.sequence, radix: 16)
    }

    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func number(_ value: UInt64, radix: UInt64 = 10) {
        // Digits from the last, then turned around in place.
        let start = bytes.count
        var rest = value
        repeat {
            let digit = UInt8(rest % radix)
            bytes.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
            rest /= radix
        } while rest > 0
        bytes[start...].reverse()
    }
}
