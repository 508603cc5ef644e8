import Corosync

/// Decides, for a watcher running on every node, which one emits: the watcher with the lowest node id
/// (then pid) among the members of the watchers' CPG group that proved they hold the cluster's key, so each
/// event reaches the sinks once per cluster.
///
/// Any member of `haclient` can join the group, so a member counts only once its announcement
/// (``ClusterEvent/watcherAnnounced(_:settled:)``, sealed with the key derived from corosync's authkey) was
/// delivered: a process without the key can never lead and so never silence the real watchers. Every
/// watcher announces itself again whenever someone joins the group, so a newcomer learns the others.
///
/// CPG delivers configuration changes and messages to every member in the same order, so watchers that were
/// in the group agree at every point on who leads. A newcomer does not know the older members at first: it
/// emits nothing until its own announcement came back and it has heard every member of the group (or, when
/// some member never announces itself, a second later, checked as events arrive). Events from its own
/// announcement on are held until then and emitted if it leads: the older leader stopped at that very
/// announcement, so nothing is lost or doubled. Events before it are dropped when another watcher said it
/// was settled (it knew the group, so its leader emitted them), and emitted, if it leads, when every
/// watcher is new (all started together, or it is alone).
///
/// A membership event that says nodes left first drops the watchers of those nodes, so when the leader's
/// node dies the survivor that becomes leader already emits that very event.
package struct LeaderFilter: Sendable {
    /// This watcher.
    package let me: CPGMember
    /// How long a newcomer waits for the group's members to announce themselves.
    package static let settleTime: Duration = .seconds(1)

    private var members: Set<CPGMember>?
    private var verified: Set<CPGMember>
    /// When this watcher's own announcement came back (nil: not yet).
    private var announcedAt: ContinuousClock.Instant?
    private var settled = false
    /// Whether another watcher said it was settled before this one settled.
    private var othersSettled = false
    /// Held before this watcher's announcement came back, and from then on until it settled.
    private var early: [ClusterEvent] = []
    private var held: [ClusterEvent] = []

    /// A filter for the watcher `me`.
    package init(me: CPGMember) {
        self.me = me
        verified = [me]
    }

    /// Whether this watcher knows the group (what its announcements say).
    package var isSettled: Bool { settled }

    /// Whether this watcher leads now (nil until it knows the group).
    package var isLeader: Bool? {
        guard settled, let members else { return nil }
        return leader(of: members) == me
    }

    /// Members of the group that never proved they hold the key (for the log).
    package var unverified: Set<CPGMember> { (members ?? []).subtracting(verified) }

    /// The events to emit now, given `event` (which arrived at `now`).
    package mutating func admit(_ event: ClusterEvent, at now: ContinuousClock.Instant = .now) -> [ClusterEvent] {
        switch event {
        case .cpg(let change):
            members = Set(change.members)
            verified = verified.intersection(members!).union([me])
        case .membership(let change):
            if !change.left.isEmpty, let current = members {
                members = current.filter { !change.left.contains($0.nodeID) }
                verified = verified.filter { $0 == me || !change.left.contains($0.nodeID) }
            }
        case .watcherAnnounced(let member, let settledThere):
            if member == me {
                if announcedAt == nil { announcedAt = now }
            } else if members?.contains(member) ?? true {
                verified.insert(member)
                if settledThere { othersSettled = true }
            }
        default:
            break
        }
        let own: [ClusterEvent]
        if case .watcherAnnounced = event { own = [] } else { own = [event] }

        if !settled {
            guard let announcedAt, let members else {
                early += own
                return []
            }
            held += own
            guard members.isSubset(of: verified) || now >= announcedAt + Self.settleTime else { return [] }
            settled = true
            let events = (othersSettled ? [] : early) + held
            early = []
            held = []
            return leader(of: members) == me ? events : []
        }
        guard let members else { return [] }
        return leader(of: members) == me ? own : []
    }

    private func leader(of members: Set<CPGMember>) -> CPGMember? {
        members.intersection(verified).min { ($0.nodeID, $0.pid) < ($1.nodeID, $1.pid) }
    }
}
