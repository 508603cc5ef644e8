internal import CCorosync

/// Votequorum's flags for a node or the cluster.
public struct VotequorumFlags: OptionSet, Hashable, Sendable {
    /// The raw flag bits (`VOTEQUORUM_INFO_*`).
    public let rawValue: UInt32

    /// Wraps raw flag bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `two_node` is set.
    public static let twoNode = VotequorumFlags(rawValue: 1)
    /// The partition is quorate.
    public static let quorate = VotequorumFlags(rawValue: 2)
    /// `wait_for_all` is set.
    public static let waitForAll = VotequorumFlags(rawValue: 4)
    /// `last_man_standing` is set.
    public static let lastManStanding = VotequorumFlags(rawValue: 8)
    /// `auto_tie_breaker` is set.
    public static let autoTieBreaker = VotequorumFlags(rawValue: 16)
    /// `allow_downscale` is set.
    public static let allowDownscale = VotequorumFlags(rawValue: 32)
    /// A quorum device is registered.
    public static let qdeviceRegistered = VotequorumFlags(rawValue: 64)
    /// The quorum device is alive.
    public static let qdeviceAlive = VotequorumFlags(rawValue: 128)
    /// The quorum device casts its vote.
    public static let qdeviceCastVote = VotequorumFlags(rawValue: 256)
    /// The quorum device runs in master-wins mode.
    public static let qdeviceMasterWins = VotequorumFlags(rawValue: 512)

    /// The names corosync-quorumtool prints, in bit order (e.g. `["2Node", "Quorate", "WaitForAll"]`).
    public var names: [String] {
        let all: [(VotequorumFlags, String)] = [
            (.twoNode, "2Node"), (.quorate, "Quorate"), (.waitForAll, "WaitForAll"),
            (.lastManStanding, "LastManStanding"), (.autoTieBreaker, "AutoTieBreaker"),
            (.allowDownscale, "AllowDownscale"), (.qdeviceRegistered, "Qdevice"), (.qdeviceAlive, "QdeviceAlive"),
            (.qdeviceCastVote, "QdeviceCastVote"), (.qdeviceMasterWins, "QdeviceMasterWins"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// A node's state as votequorum sees it.
public enum VotequorumNodeState: Hashable, Sendable, CustomStringConvertible {
    /// In the membership.
    case member
    /// Known but not in the membership.
    case dead
    /// Leaving the cluster.
    case leaving
    /// A state this binding does not know.
    case unknown(UInt32)

    /// Maps `VOTEQUORUM_NODESTATE_*`.
    public init(rawValue: UInt32) {
        switch rawValue {
        case 1: self = .member
        case 2: self = .dead
        case 3: self = .leaving
        default: self = .unknown(rawValue)
        }
    }

    /// `member`, `dead`, `leaving`.
    public var description: String {
        switch self {
        case .member: "member"
        case .dead: "dead"
        case .leaving: "leaving"
        case .unknown(let raw): "unknown(\(raw))"
        }
    }
}

/// What votequorum knows of a node and of the cluster's vote arithmetic.
public struct VotequorumInfo: Hashable, Sendable {
    /// The node.
    public let nodeID: NodeID
    /// The node's state.
    public let state: VotequorumNodeState
    /// The node's votes.
    public let votes: UInt32
    /// Expected votes as the node sees them.
    public let expectedVotes: UInt32
    /// The highest expected votes in the cluster.
    public let highestExpected: UInt32
    /// Votes present in the partition.
    public let totalVotes: UInt32
    /// Votes needed for quorum.
    public let quorum: UInt32
    /// Flags (quorate, two_node, wait_for_all, ...).
    public let flags: VotequorumFlags
    /// Votes of the quorum device, if one is registered.
    public let qdeviceVotes: UInt32
    /// The quorum device's name, if one is registered.
    public let qdeviceName: String
}

/// A node and its votequorum state.
public struct VotequorumNode: Hashable, Sendable {
    /// The node.
    public let nodeID: NodeID
    /// Its state.
    public let state: VotequorumNodeState

    /// Creates a node entry.
    public init(nodeID: NodeID, state: VotequorumNodeState) {
        self.nodeID = nodeID
        self.state = state
    }
}

/// What votequorum delivers.
public enum VotequorumEvent: Hashable, Sendable {
    /// Quorum was gained, lost or re-confirmed, with every known node's state.
    case quorum(quorate: Bool, nodes: [VotequorumNode])
    /// Expected votes changed.
    case expectedVotes(UInt32)
    /// A new membership formed.
    case nodeList(ringID: RingID, members: [NodeID])
}

/// A connection to corosync's votequorum service.
///
/// ``events`` starts with the current state and then carries every change; it keeps the newest 64 if
/// the consumer falls behind, since each event describes a whole state.
public final class Votequorum: Sendable {
    private let loop: DispatchLoop<VotequorumEvent>
    private let handle: UInt64

    /// Connects to votequorum and starts tracking changes.
    ///
    /// - Parameters:
    ///   - endpoint: where corosync runs.
    ///   - thread: the thread that dispatches the handle, shared with other handles; nil: one of its own.
    /// - Throws: ``CorosyncError`` (`.library` when corosync is not running, `.notSupported` when
    ///   another quorum provider runs), or ``NamespaceError``.
    public init(endpoint: CorosyncEndpoint = .local, thread: CorosyncThread? = nil) throws {
        let loop = DispatchLoop<VotequorumEvent>(name: "votequorum", buffering: .bufferingNewest(64), thread: thread?.poll)
        let context = loop.contextSink.retainedContext()
        let handle: UInt64
        do {
        handle = try withEndpoint(endpoint) { () throws(CorosyncError) -> UInt64 in
            var handle = votequorum_handle_t()
            var callbacks = votequorum_callbacks_t(
                votequorum_quorum_notify_fn: VotequorumCallbacks.quorum,
                votequorum_expectedvotes_notify_fn: VotequorumCallbacks.expectedVotes,
                votequorum_nodelist_notify_fn: VotequorumCallbacks.nodeList
            )
            try retrying("votequorum_initialize") { votequorum_initialize(&handle, &callbacks) }
            return handle
        }
        } catch {
            loop.contextSink.releaseContext(context)
            throw error
        }
        var fd: Int32 = -1
        do {
            try check(votequorum_context_set(handle, context), "votequorum_context_set")
            try check(votequorum_fd_get(handle, &fd), "votequorum_fd_get")
            try retrying("votequorum_trackstart") {
                votequorum_trackstart(handle, 0, UInt32(CS_TRACK_CURRENT | CS_TRACK_CHANGES))
            }
        } catch {
            votequorum_finalize(handle)
            loop.contextSink.releaseContext(context)
            throw error
        }
        self.loop = loop
        self.handle = handle
        loop.start(
            fd: fd,
            dispatch: { votequorum_dispatch(handle, CS_DISPATCH_ALL) },
            finalize: { _ = votequorum_finalize(handle) },
            context: context
        )
    }

    deinit {
        loop.close()
    }

    /// The current state and every change after it.
    public var events: AsyncThrowingStream<VotequorumEvent, any Error> { loop.stream }

    /// Votequorum's view of `node` and of the cluster's votes.
    public func info(of node: NodeID) throws(CorosyncError) -> VotequorumInfo {
        let handle = self.handle
        return try loop.perform { () throws(CorosyncError) in
            var info = votequorum_info()
            try retrying("votequorum_getinfo(\(node))") { votequorum_getinfo(handle, node.rawValue, &info) }
            let qdeviceName = withUnsafeBytes(of: info.qdevice_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            return VotequorumInfo(
                nodeID: NodeID(info.node_id),
                state: VotequorumNodeState(rawValue: info.node_state),
                votes: info.node_votes,
                expectedVotes: info.node_expected_votes,
                highestExpected: info.highest_expected,
                totalVotes: info.total_votes,
                quorum: info.quorum,
                flags: VotequorumFlags(rawValue: info.flags),
                qdeviceVotes: info.qdevice_votes,
                qdeviceName: qdeviceName
            )
        }
    }

    /// Finalizes the handle and ends ``events``.
    public func close() {
        loop.close()
    }
}

private func votequorumSink(_ handle: votequorum_handle_t) -> EventSink<VotequorumEvent>? {
    var context: UnsafeMutableRawPointer?
    guard votequorum_context_get(handle, &context) == CS_OK else { return nil }
    return EventSink<VotequorumEvent>.from(UnsafeRawPointer(context))
}

/// The C callbacks; each copies its arguments into Swift values before returning.
enum VotequorumCallbacks {
    static let quorum: votequorum_quorum_notification_fn_t = { handle, _, quorate, count, nodes in
        guard let sink = votequorumSink(handle) else { return }
        var list: [VotequorumNode] = []
        if let nodes, count > 0 {
            // Sound: `nodes` holds `count` entries for the duration of the callback.
            list = UnsafeBufferPointer(start: nodes, count: Int(count)).map {
                VotequorumNode(nodeID: NodeID($0.nodeid), state: VotequorumNodeState(rawValue: $0.state))
            }
        }
        sink.yield(.quorum(quorate: quorate != 0, nodes: list))
    }

    static let expectedVotes: votequorum_expectedvotes_notification_fn_t = { handle, _, expected in
        votequorumSink(handle)?.yield(.expectedVotes(expected))
    }

    static let nodeList: votequorum_nodelist_notification_fn_t = { handle, _, ringID, count, nodes in
        guard let sink = votequorumSink(handle) else { return }
        let ring = RingID(nodeID: NodeID(ringID.nodeid), sequence: ringID.seq)
        sink.yield(.nodeList(ringID: ring, members: nodeIDs(nodes.map { UnsafePointer($0) }, Int(count))))
    }
}
