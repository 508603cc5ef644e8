import Foundation
import Pacemaker
import Testing

/// `ClusterStatus` reads crm_mon's XML (never its text): checked on output captured from a lab.
@Suite("crm_mon XML")
struct ClusterStatusTests {
    static let fixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/crm_mon/three-nodes-one-fenced.xml")

    @Test("A 3-node cluster with node3 fenced: DC, quorum, nodes and placements")
    func fencedNode() throws {
        let xml = try String(contentsOf: Self.fixture, encoding: .utf8)
        let status = try ClusterStatus(xml: xml)
        #expect(status.quorate)
        #expect(status.dc != nil && status.dc != "node3")
        #expect(status.nodes.map(\.name) == ["node1", "node2", "node3"])
        #expect(status.nodes.map(\.online) == [true, true, false])
        #expect(status.placement(of: "vip").count == 1)
        #expect(status.placement(of: "vip") != ["node3"])
        #expect(status.placement(of: "haproxy") == ["node1", "node2"])
        #expect(status.resources.first { $0.id == "fence-node3" }?.agent == "stonith:fence_redfish")
        #expect(status.failedActions.isEmpty)
    }

    @Test("Not crm_mon XML: an error, not a crash")
    func garbage() {
        #expect(throws: (any Error).self) { try ClusterStatus(xml: "Cluster Summary: (text output)") }
    }

    @Test("Input the fuzzer found crashing FoundationXML (a NUL byte) and text that is not XML: refused, not a crash")
    func fuzzFindings() throws {
        #expect(throws: MalformedXMLError.self) { try ClusterStatus(xml: "\u{0}\u{4}") }
        #expect(throws: MalformedXMLError.self) { try ClusterStatus(xml: "<crm_mon>\u{0}</crm_mon>") }
        #expect(throws: MalformedXMLError.self) { try ClusterStatus(xml: "not xml") }
        #expect(throws: CIBParseError.self) { try CIBParser.parse(data: Data([0x00, 0x04])) }
    }
}
