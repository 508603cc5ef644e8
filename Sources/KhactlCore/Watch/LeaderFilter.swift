import Corosync

/// Decides, for a watcher running on every node, which one emits: the watcher with the lowest node id
/// (then pid) in the watchers' CPG group, so each event reaches the sinks once per cluster.
///
/// The group's membership comes from CPG configuration changes. A membership event that says nodes left
/// first drops the watchers of those nodes, so when the leader's node dies the survivor that becomes
/// leader already emits that very event: no gap across a leader change, and no double (every watcher sees
/// the same corosync events in the same order and makes the same choice). Events that arrive before this
/// watcher has seen its own group are held until it has.
public struct LeaderFilter: Sendable {
    /// This watcher.
    public let me: CPGMember
    private var watchers: Set<CPGMember>?
    private var held: [ClusterEvent] = []

    /// A filter for the watcher `me`.
    public init(me: CPGMember) {
        self.me = me
    }

    /// Whether this watcher leads now (nil until the group is known).
    public var isLeader: Bool? {
        guard let watchers else { return nil }
        return leader(of: watchers) == me
    }

    /// The events to emit now, given `event`.
    public mutating func admit(_ event: ClusterEvent) -> [ClusterEvent] {
        switch event {
        case .cpg(let change):
            watchers = Set(change.members)
        case .membership(let change):
            if !change.left.isEmpty, var current = watchers {
                current = current.filter { !change.left.contains($0.nodeID) }
                watchers = current
            }
        default:
            break
        }
        guard let watchers else {
            held.append(event)
            return []
        }
        let events = held + [event]
        held = []
        return leader(of: watchers) == me ? events : []
    }

    private func leader(of watchers: Set<CPGMember>) -> CPGMember? {
        watchers.min { ($0.nodeID, $0.pid) < ($1.nodeID, $1.pid) }
    }
}
