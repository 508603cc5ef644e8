import Corosync
import KhactlCore
import Testing

/// The leader choice of `khactl watch --leader-only`, on event sequences.
@Suite("Leader filter")
struct LeaderFilterTests {
    static let ring = RingID(nodeID: NodeID(1), sequence: 9)
    static func member(_ node: UInt32, _ pid: UInt32) -> CPGMember { CPGMember(nodeID: NodeID(node), pid: pid) }
    static func group(_ members: [CPGMember]) -> ClusterEvent {
        .cpg(CPGConfigurationChange(group: "khactl-watch", members: members, joined: [], left: []))
    }
    static func left(_ nodes: [UInt32], remaining: [UInt32]) -> ClusterEvent {
        .membership(QuorumNodeListChange(ringID: ring, members: remaining.map { NodeID($0) }, joined: [], left: nodes.map { NodeID($0) }))
    }
    static let quorum = ClusterEvent.quorum(QuorumState(quorate: true, ringID: ring, members: [NodeID(1), NodeID(2)]))

    @Test("Events before the group is known are held, then emitted by the leader only")
    func heldUntilGroupKnown() {
        var leader = LeaderFilter(me: Self.member(1, 10))
        var follower = LeaderFilter(me: Self.member(2, 20))
        #expect(leader.admit(Self.quorum) == [])
        #expect(follower.admit(Self.quorum) == [])
        let group = Self.group([Self.member(1, 10), Self.member(2, 20)])
        #expect(leader.admit(group) == [Self.quorum, group])
        #expect(follower.admit(group) == [])
        #expect(leader.isLeader == true)
        #expect(follower.isLeader == false)
    }

    @Test("When the leader's node leaves, the next watcher emits that very membership event")
    func leaderNodeLeaves() {
        var follower = LeaderFilter(me: Self.member(2, 20))
        _ = follower.admit(Self.group([Self.member(1, 10), Self.member(2, 20), Self.member(3, 30)]))
        let event = Self.left([1], remaining: [2, 3])
        #expect(follower.admit(event) == [event])
        var third = LeaderFilter(me: Self.member(3, 30))
        _ = third.admit(Self.group([Self.member(1, 10), Self.member(2, 20), Self.member(3, 30)]))
        #expect(third.admit(event) == [])
    }

    @Test("Two watchers on one node: the lower pid leads")
    func samePID() {
        var low = LeaderFilter(me: Self.member(1, 5))
        var high = LeaderFilter(me: Self.member(1, 7))
        let group = Self.group([Self.member(1, 7), Self.member(1, 5)])
        #expect(low.admit(group) == [group])
        #expect(high.admit(group) == [])
    }
}
