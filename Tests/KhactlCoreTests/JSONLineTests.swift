import Foundation
import Corosync
import Testing
import TestSupport

@testable import KhactlCore

/// `JSONValue.line` writes JSON itself (for `khactl watch`'s per-event cost); JSONEncoder with the same
/// options is the reference it must match byte for byte.
@Suite("JSON lines")
struct JSONLineTests {
    static let values: [JSONValue] = [
        .null, true, false, 0, -7, .integer(Int64.max), .integer(Int64.min),
        "", "plain", "quote \" backslash \\ slash / tab \t newline \n return \r", "bell \u{07} escape \u{1B} \u{08} \u{0C} \u{1F}",
        "unicode é ✓ 🐧 \u{2028}", .seconds(2.68), .seconds(3), .seconds(0.0004), .seconds(-1.5), .seconds(12345.6789),
        [], [1, "two", [3], ["four": 4]], [:],
        ["time": "2026-12-02T14:00:00.000Z", "kind": "membership", "node": 1, "ringID": "1.1c", "members": [1, 2], "joined": [], "left": [3]],
        ["a10": 1, "a2": 2, "B": 3, "a": 4, "targetRC": 5, "target_x": 6, "é": 7, "_x": 8, "nested": ["z": ["y": .null, "x": [true]]]],
    ]

    @Test("line equals JSONEncoder's output", arguments: values)
    func matchesEncoder(_ value: JSONValue) {
        #expect(value.line == value.encoderLine)
    }

    @Test("a watch record's line is the encoder's, and parses back")
    func watchRecord() throws {
        let record = WatchRecord(.disconnected(reason: "corosync \"gone\"\n"), node: NodeID(3))
        let line = record.json.line
        #expect(line == record.json.encoderLine)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["reason"] as? String == "corosync \"gone\"\n")
        #expect(object["kind"] as? String == "connection")
    }

    @Test("timestamps: RFC 3339 with milliseconds in UTC, as ISO8601FormatStyle writes them")
    func timestamps() {
        let spread = (0..<500).map { Double($0) * 8_765_432.1987 + Double($0 % 7) * 0.000_3 }
        for seconds in [0, 1_764_684_000.123, 1_764_684_000.9999, 951_782_400.5, 4_102_444_799.999, -1.5, 1e9] + spread {
            let date = Date(timeIntervalSince1970: seconds)
            let reference = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
            #expect(Timestamp.rfc3339(date) == reference, "\(seconds)")
        }
    }
}

/// `WatchRecord.jsonLine` writes membership, quorum and CPG events straight from the event; `json.line` is
/// the reference it must match byte for byte.
@Suite("Watch event lines")
struct EventLineTests {
    static let members = [CPGMember(nodeID: NodeID(1), pid: 4242), CPGMember(nodeID: NodeID(4_294_967_295), pid: UInt32.max)]
    static let events: [ClusterEvent] = [
        .membership(QuorumNodeListChange(ringID: RingID(nodeID: NodeID(1), sequence: 0x1c), members: [NodeID(1), NodeID(2)], joined: [], left: [NodeID(3)])),
        .membership(QuorumNodeListChange(ringID: RingID(nodeID: NodeID(0xabc), sequence: UInt64.max), members: [], joined: [NodeID(7)], left: [])),
        .quorum(QuorumState(quorate: true, ringID: RingID(nodeID: NodeID(2), sequence: 0), members: [NodeID(2)])),
        .quorum(QuorumState(quorate: false, ringID: RingID(nodeID: NodeID(10), sequence: 255), members: [])),
        .cpg(CPGConfigurationChange(group: "khactl-watch", members: members, joined: [CPGMemberChange(member: members[0], reason: .join)], left: [])),
        .cpg(CPGConfigurationChange(
            group: "é ✓", members: [], joined: [],
            left: [CPGMemberChange(member: members[1], reason: .nodeDown), CPGMemberChange(member: members[0], reason: .unknown(9))])),
        // Names that need escaping take the general path, with the same result.
        .cpg(CPGConfigurationChange(group: "quote \" and \\ and \t", members: members, joined: [], left: [])),
        .disconnected(reason: "gone"),
        .reconnected(attempts: 3),
    ]

    @Test("jsonLine equals json.line and a newline", arguments: events)
    func matchesGeneralPath(_ event: ClusterEvent) throws {
        for time in [Date(timeIntervalSince1970: 1_764_684_000.123), Date(timeIntervalSince1970: 0), Date()] {
            for node in [NodeID(1), NodeID(UInt32.max)] {
                let record = WatchRecord(event, node: node, time: time)
                #expect(String(decoding: record.jsonLine, as: UTF8.self) == record.json.line + "\n")
            }
        }
    }
}
