internal import CCorosync

/// The cluster's quorum state as corosync's quorum service reports it.
public struct QuorumState: Hashable, Sendable {
    /// Whether this node's partition has quorum.
    public let quorate: Bool
    /// The ring the state belongs to.
    public let ringID: RingID
    /// The nodes in the current membership.
    public let members: [NodeID]

    /// Creates a state.
    public init(quorate: Bool, ringID: RingID, members: [NodeID]) {
        self.quorate = quorate
        self.ringID = ringID
        self.members = members
    }
}

/// A membership change as the quorum service reports it: who is in, who joined, who left.
public struct QuorumNodeListChange: Hashable, Sendable {
    /// The new ring.
    public let ringID: RingID
    /// Every node in the new membership.
    public let members: [NodeID]
    /// Nodes that joined.
    public let joined: [NodeID]
    /// Nodes that left.
    public let left: [NodeID]

    /// Creates a change.
    public init(ringID: RingID, members: [NodeID], joined: [NodeID], left: [NodeID]) {
        self.ringID = ringID
        self.members = members
        self.joined = joined
        self.left = left
    }
}

/// What the quorum service delivers.
public enum QuorumEvent: Hashable, Sendable {
    /// The quorum state (quorate flag, ring, members); the current one comes first.
    case quorum(QuorumState)
    /// The membership changed.
    case nodeList(QuorumNodeListChange)
}

/// A connection to corosync's quorum service.
///
/// ``events`` starts with the current state and then carries every change. It keeps the newest
/// 64 events if the consumer falls behind: each `.quorum` event is a whole state, so the newest wins.
public final class Quorum: Sendable {
    private let loop: DispatchLoop<QuorumEvent>
    private let handle: UInt64

    /// `true` when a quorum provider (votequorum) is configured.
    public let hasProvider: Bool

    /// Connects to the quorum service and starts tracking changes.
    ///
    /// - Parameters:
    ///   - endpoint: where corosync runs.
    ///   - thread: the thread that dispatches the handle, shared with other handles; nil: one of its own.
    ///   - eventHandler: when given, receives every event on the handle's thread, as corosync
    ///     delivers it, instead of ``events`` (which then carries no events and only ends, normally or with
    ///     the error). For forwarders that cannot afford a hop through a task per event; it must not block.
    /// - Throws: ``CorosyncError`` (`.library` when corosync is not running), or ``NamespaceError``.
    public init(
        endpoint: CorosyncEndpoint = .local, thread: CorosyncThread? = nil, eventHandler: (@Sendable (QuorumEvent) -> Void)? = nil
    ) throws {
        let loop = DispatchLoop<QuorumEvent>(name: "quorum", buffering: .bufferingNewest(64), handler: eventHandler, thread: thread?.poll)
        let context = loop.contextSink.retainedContext()
        let contextAddress = UInt(bitPattern: context)
        let opened: OpenedQuorum
        do {
            opened = try withEndpoint(endpoint) { () throws(CorosyncError) -> OpenedQuorum in
                var handle = quorum_handle_t()
                var quorumType: UInt32 = 0
                var model = quorum_model_v1_data_t()
                model.model = QUORUM_MODEL_V1
                model.quorum_notify_fn = QuorumCallbacks.quorum
                model.nodelist_notify_fn = QuorumCallbacks.nodeList
                let context = UnsafeMutableRawPointer(bitPattern: contextAddress)
                try retrying("quorum_initialize") {
                    withUnsafeMutablePointer(to: &model) { model in
                        // Sound: quorum_model_v1_data_t starts with quorum_model_data_t, as quorum.h lays out.
                        model.withMemoryRebound(to: quorum_model_data_t.self, capacity: 1) {
                            quorum_model_initialize(&handle, QUORUM_MODEL_V1, $0, &quorumType, context)
                        }
                    }
                }
                return OpenedQuorum(handle: handle, quorumType: quorumType)
            }
        } catch {
            loop.contextSink.releaseContext(context)
            throw error
        }
        let handle = opened.handle
        var fd: Int32 = -1
        do {
            try check(quorum_fd_get(handle, &fd), "quorum_fd_get")
            try retrying("quorum_trackstart") { quorum_trackstart(handle, UInt32(CS_TRACK_CURRENT | CS_TRACK_CHANGES)) }
        } catch {
            quorum_finalize(handle)
            loop.contextSink.releaseContext(context)
            throw error
        }
        self.loop = loop
        self.handle = handle
        self.hasProvider = opened.quorumType != 0
        loop.start(
            fd: fd,
            dispatch: { quorum_dispatch(handle, CS_DISPATCH_ALL) },
            finalize: { _ = quorum_finalize(handle) },
            context: context
        )
    }

    deinit {
        loop.close()
    }

    /// The current state and every change after it. Ends by throwing ``CorosyncError/library`` when
    /// corosync goes away, normally when the handle is closed.
    public var events: AsyncThrowingStream<QuorumEvent, any Error> { loop.stream }

    /// Whether this partition is quorate, asked of corosync now.
    public func isQuorate() throws(CorosyncError) -> Bool {
        let handle = self.handle
        return try loop.perform { () throws(CorosyncError) in
            var quorate: Int32 = 0
            try retrying("quorum_getquorate") { quorum_getquorate(handle, &quorate) }
            return quorate != 0
        }
    }

    /// Finalizes the handle and ends ``events``.
    public func close() {
        loop.close()
    }
}

private func quorumSink(_ handle: quorum_handle_t) -> EventSink<QuorumEvent>? {
    var context: UnsafeRawPointer?
    guard quorum_context_get(handle, &context) == CS_OK else { return nil }
    return EventSink<QuorumEvent>.from(context)
}

/// The C callbacks; each copies its arguments into Swift values before returning.
enum QuorumCallbacks {
    static let quorum: quorum_v1_quorum_notification_fn_t = { handle, quorate, ringID, count, members in
        guard let sink = quorumSink(handle) else { return }
        let ring = RingID(nodeID: NodeID(ringID.nodeid), sequence: ringID.seq)
        sink.yield(.quorum(QuorumState(quorate: quorate != 0, ringID: ring, members: nodeIDs(members, Int(count)))))
    }

    static let nodeList: quorum_v1_nodelist_notification_fn_t = {
        handle, ringID, memberCount, members, joinedCount, joined, leftCount, left in
        guard let sink = quorumSink(handle) else { return }
        let change = QuorumNodeListChange(
            ringID: RingID(nodeID: NodeID(ringID.nodeid), sequence: ringID.seq),
            members: nodeIDs(members, Int(memberCount)),
            joined: nodeIDs(joined, Int(joinedCount)),
            left: nodeIDs(left, Int(leftCount))
        )
        sink.yield(.nodeList(change))
    }
}

/// What quorum_model_initialize returned.
private struct OpenedQuorum: Sendable {
    let handle: UInt64
    let quorumType: UInt32
}
