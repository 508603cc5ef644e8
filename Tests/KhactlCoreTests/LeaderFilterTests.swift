import Corosync
import KhactlCore
import Testing
import TestSupport

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

    static func announced(_ member: CPGMember, settled: Bool = false) -> ClusterEvent { .watcherAnnounced(member, settled: settled) }

    /// Feeds every filter the same sequence, as CPG delivers it to every member; returns what each emitted.
    static func feed(_ filters: inout [LeaderFilter], _ events: [ClusterEvent], at now: ContinuousClock.Instant = .now) -> [[ClusterEvent]] {
        var emitted = Array(repeating: [ClusterEvent](), count: filters.count)
        for event in events {
            for index in filters.indices { emitted[index] += filters[index].admit(event, at: now) }
        }
        return emitted
    }

    @Test("A watcher alone holds what it saw until its own announcement came back, then emits it")
    func aloneHeldUntilAnnounced() {
        let one = Self.member(1, 10)
        var filter = LeaderFilter(me: one)
        let group = Self.group([one])
        #expect(filter.admit(Self.quorum) == [])
        #expect(filter.admit(group) == [])
        #expect(filter.isLeader == nil)
        #expect(filter.admit(Self.announced(one)) == [Self.quorum, group])
        #expect(filter.isLeader == true)
    }

    @Test("Watchers that start together: only the leader emits, start-up events included, once")
    func startTogether() {
        let one = Self.member(1, 10), two = Self.member(2, 20)
        var filters = [LeaderFilter(me: one), LeaderFilter(me: two)]
        let group = Self.group([one, two])
        let event = Self.left([3], remaining: [1, 2])
        let emitted = Self.feed(&filters, [Self.quorum, group, Self.announced(two), Self.announced(one), event])
        // Neither was settled when it announced, so nobody emitted what came before: the leader does.
        #expect(emitted[0] == [Self.quorum, group, event])
        #expect(emitted[1] == [])
        #expect(filters.map(\.isLeader) == [true, false])
    }

    @Test("When the leader's node leaves, the next watcher emits that very membership event")
    func leaderNodeLeaves() {
        let members = [Self.member(1, 10), Self.member(2, 20), Self.member(3, 30)]
        var filters = members.map { LeaderFilter(me: $0) }
        _ = Self.feed(&filters, [Self.group(members)] + members.map { Self.announced($0) })
        let event = Self.left([1], remaining: [2, 3])
        let emitted = Self.feed(&filters, [event])
        #expect(emitted == [[], [event], []])
    }

    @Test("Two watchers on one node: the lower pid leads")
    func samePID() {
        let low = Self.member(1, 5), high = Self.member(1, 7)
        var filters = [LeaderFilter(me: low), LeaderFilter(me: high)]
        let group = Self.group([high, low])
        let event = Self.left([3], remaining: [1])
        let emitted = Self.feed(&filters, [group, Self.announced(high), Self.announced(low), event])
        #expect(emitted == [[group, event], []])
    }

    @Test("A member that never announces itself with the key never leads, however low its node id and pid")
    func unverifiedNeverLeads() {
        let intruder = Self.member(1, 2), real = Self.member(2, 20)
        var filter = LeaderFilter(me: real)
        let start = ContinuousClock.now
        let group = Self.group([intruder, real])
        #expect(filter.admit(group, at: start) == [])
        #expect(filter.admit(Self.announced(real), at: start) == [])
        // Until every member announced itself or a second passed, a newcomer holds what it saw.
        #expect(filter.admit(Self.quorum, at: start + .milliseconds(500)) == [])
        #expect(filter.isLeader == nil)
        let after = Self.left([3], remaining: [1, 2])
        #expect(filter.admit(after, at: start + LeaderFilter.settleTime) == [group, Self.quorum, after])
        #expect(filter.isLeader == true)
        #expect(filter.unverified == [intruder])
        // The intruder's own messages, without the key, never reach the filter as announcements; a forged
        // announcement under another member's name is refused by WatcherKey (its code covers the sender).
        #expect(filter.admit(Self.quorum, at: start + .seconds(5)) == [Self.quorum])
    }

    @Test("A newcomer with a lower id takes over at its own announcement: nothing lost, nothing doubled")
    func newcomerTakesOver() {
        let old = Self.member(2, 20), third = Self.member(3, 30), newcomer = Self.member(1, 10)
        var filters = [LeaderFilter(me: old), LeaderFilter(me: third)]
        _ = Self.feed(&filters, [Self.group([old, third]), Self.announced(old), Self.announced(third)])
        #expect(filters[0].isLeader == true)
        filters.append(LeaderFilter(me: newcomer))
        let joined = Self.group([newcomer, old, third])
        let before = Self.quorum
        let between = Self.left([4], remaining: [1, 2, 3])
        let later = Self.left([5], remaining: [1, 2, 3])
        // The join, an event, the newcomer's announcement, an event, the older watchers' announcements, an event.
        let emitted = Self.feed(
            &filters,
            [joined, before, Self.announced(newcomer), between, Self.announced(old, settled: true), Self.announced(third, settled: true), later])
        #expect(emitted[0] == [joined, before])
        #expect(emitted[1] == [])
        #expect(emitted[2] == [between, later])
        #expect(filters.map(\.isLeader) == [false, false, true])
    }

    @Test("A newcomer with a higher id stays silent; the leader goes on")
    func newcomerFollows() {
        let old = Self.member(1, 10), newcomer = Self.member(3, 30)
        var filters = [LeaderFilter(me: old), LeaderFilter(me: newcomer)]
        _ = filters[0].admit(Self.group([old]))
        _ = filters[0].admit(Self.announced(old))
        let joined = Self.group([old, newcomer])
        let event = Self.quorum
        let emitted = Self.feed(&filters, [joined, Self.announced(newcomer), event, Self.announced(old, settled: true), event])
        #expect(emitted[0] == [joined, event, event])
        #expect(emitted[1] == [])
    }
}
