import Corosync
import Testing

@Suite("Corosync values")
struct ValueTests {
    @Test("Named errors keep their codes; unknown codes survive with corosync's own name")
    func errors() {
        #expect(CorosyncError.library.code == 2)
        #expect(CorosyncError.tryAgain.code == 6)
        #expect(CorosyncError.security.code == 100)
        #expect(CorosyncError.library.name == "CS_ERR_LIBRARY")
        let unknown = CorosyncError(code: 4242, operation: "cpg_join")
        #expect(unknown.code == 4242)
        #expect(unknown != .library)
        #expect(String(describing: unknown).hasPrefix("cpg_join failed:"))
        #expect(CorosyncError(code: 2, operation: "x") == .library)
    }

    @Test("The library error tells the operator what to check")
    func libraryDescription() {
        let text = String(describing: CorosyncError(code: 2, operation: "cpg_initialize"))
        #expect(text.contains("cpg_initialize failed: corosync is not running or not reachable"))
        #expect(text.contains("network namespace"))
        #expect(!text.contains("\n"))
    }

    @Test("Group names: 1 to 127 bytes, no NUL", arguments: [
        (String(repeating: "a", count: 127), true),
        (String(repeating: "a", count: 128), false),
        (String(repeating: "é", count: 64), false),  // 128 bytes in UTF-8
        (String(repeating: "é", count: 63), true),
        ("", false),
        ("x\0y", false),
        ("khactl-watch", true),
    ])
    func groupNames(name: String, valid: Bool) {
        #expect(((try? CPGGroupName(name)) != nil) == valid)
    }

    @Test("A too-long name's error gives its length and the limit")
    func tooLongMessage() {
        let name = String(repeating: "n", count: 200)
        #expect(throws: CPGGroupNameError.tooLong(name: name, bytes: 200)) { try CPGGroupName(name) }
        #expect(String(describing: CPGGroupNameError.tooLong(name: name, bytes: 200)).contains("200 bytes, at most 127"))
    }

    @Test("Reasons map corosync's codes, unknown ones survive", arguments: [
        (UInt32(1), CPGReason.join), (2, .leave), (3, .nodeDown), (4, .nodeUp), (5, .processDown), (0, .undefined),
        (99, .unknown(99)),
    ])
    func reasons(raw: UInt32, reason: CPGReason) {
        #expect(CPGReason(rawValue: raw) == reason)
    }

    @Test("Ring ids print as corosync-quorumtool does")
    func ringID() {
        #expect(RingID(nodeID: NodeID(1), sequence: 0x1c).description == "1.1c")
    }

    @Test("Votequorum flags print their names in bit order")
    func flags() {
        let flags: VotequorumFlags = [.quorate, .twoNode, .waitForAll]
        #expect(flags.names == ["2Node", "Quorate", "WaitForAll"])
        #expect(VotequorumNodeState(rawValue: 2) == .dead)
        #expect(VotequorumNodeState(rawValue: 9) == .unknown(9))
    }
}
