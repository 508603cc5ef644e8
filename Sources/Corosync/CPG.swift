internal import CCorosync
import Synchronization

/// A connection to corosync's Closed Process Group service.
///
/// One handle joins at most one group at a time. Everything corosync delivers for the handle
/// (configuration changes, totem ring changes, messages) arrives on ``events`` in corosync's order.
///
/// ```swift
/// let cpg = try CPG()
/// try cpg.join(CPGGroupName("khactl"))
/// try cpg.send(Array("hello".utf8))
/// for try await event in cpg.events {
///     if case .message(let message) = event { print(message.sender, message.bytes.count) }
/// }
/// ```
///
/// `events` buffers without limit: dropping a message or a membership change would break the
/// virtual-synchrony guarantee that every member sees the same sequence. Consume it.
public final class CPG: Sendable {
    private let loop: DispatchLoop<CPGEvent>
    private let handle: UInt64
    private let joined = Mutex<CPGGroupName?>(nil)

    /// The endpoint this handle is connected to.
    public let endpoint: CorosyncEndpoint

    /// Connects to corosync's CPG service.
    ///
    /// - Parameters:
    ///   - endpoint: where corosync runs.
    ///   - totemChanges: also deliver totem ring changes (the current one first) on ``events``.
    ///   - thread: the thread that dispatches the handle, shared with other handles; nil: one of its own.
    ///   - eventHandler: when given, receives every event on the handle's thread, in corosync's
    ///     order, instead of ``events`` (which then carries no events and only ends, normally or with the
    ///     error). For forwarders that cannot afford a hop through a task per event; it must not block.
    /// - Throws: ``CorosyncError`` (`.library` when corosync is not running), or ``NamespaceError``.
    public init(
        endpoint: CorosyncEndpoint = .local, totemChanges: Bool = true, thread: CorosyncThread? = nil,
        eventHandler: (@Sendable (CPGEvent) -> Void)? = nil
    ) throws {
        self.endpoint = endpoint
        let loop = DispatchLoop<CPGEvent>(name: "cpg", buffering: .unbounded, handler: eventHandler, thread: thread?.poll)
        let context = loop.contextSink.retainedContext()
        let contextAddress = UInt(bitPattern: context)
        let flags = totemChanges ? UInt32(CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF) : 0
        let handle: UInt64
        do {
            handle = try withEndpoint(endpoint) { () throws(CorosyncError) -> UInt64 in
                var handle = cpg_handle_t()
                var model = cpg_model_v1_data_t()
                model.model = CPG_MODEL_V1
                model.cpg_deliver_fn = CPGCallbacks.deliver
                model.cpg_confchg_fn = CPGCallbacks.configurationChange
                model.cpg_totem_confchg_fn = totemChanges ? CPGCallbacks.totemChange : nil
                model.flags = flags
                let context = UnsafeMutableRawPointer(bitPattern: contextAddress)
                try retrying("cpg_initialize") {
                    withUnsafeMutablePointer(to: &model) { model in
                        // Sound: cpg_model_v1_data_t starts with cpg_model_data_t, as cpg.h lays out.
                        model.withMemoryRebound(to: cpg_model_data_t.self, capacity: 1) {
                            cpg_model_initialize(&handle, CPG_MODEL_V1, $0, context)
                        }
                    }
                }
                return handle
            }
        } catch {
            loop.contextSink.releaseContext(context)
            throw error
        }
        var fd: Int32 = -1
        do {
            try check(cpg_fd_get(handle, &fd), "cpg_fd_get")
        } catch {
            cpg_finalize(handle)
            loop.contextSink.releaseContext(context)
            throw error
        }
        loop.start(
            fd: fd,
            dispatch: { cpg_dispatch(handle, CS_DISPATCH_ALL) },
            finalize: { _ = cpg_finalize(handle) },
            context: context
        )
        self.loop = loop
        self.handle = handle
    }

    deinit {
        loop.close()
    }

    /// Everything corosync delivers to this handle. Iterate it once; when corosync goes away it ends by
    /// throwing ``CorosyncError/library``; when the handle is closed it ends normally.
    public var events: AsyncThrowingStream<CPGEvent, any Error> { loop.stream }

    /// Joins `group`. A handle can be in one group at a time.
    public func join(_ group: CPGGroupName) throws(CorosyncError) {
        let handle = self.handle
        try loop.perform { () throws(CorosyncError) in
            var name = makeCName(group)
            try retrying("cpg_join(\(group))") { cpg_join(handle, &name) }
        }
        joined.withLock { $0 = group }
    }

    /// Leaves the group this handle joined.
    public func leave() throws(CorosyncError) {
        guard let group = joined.withLock({ $0 }) else {
            throw CorosyncError.notExist.during("cpg_leave: this handle has not joined a group")
        }
        let handle = self.handle
        try loop.perform { () throws(CorosyncError) in
            var name = makeCName(group)
            try retrying("cpg_leave(\(group))") { cpg_leave(handle, &name) }
        }
        joined.withLock { $0 = nil }
    }

    /// The group this handle joined, if any.
    public var group: CPGGroupName? { joined.withLock { $0 } }

    /// Multicasts `bytes` to the joined group with agreed ordering: every member, the sender included,
    /// receives the group's messages in the same order. Retries a bounded number of times while
    /// corosync applies flow control.
    public func send(_ bytes: [UInt8]) throws(CorosyncError) {
        let handle = self.handle
        try loop.perform { () throws(CorosyncError) in
            var bytes = bytes
            try retrying("cpg_mcast_joined(\(bytes.count) bytes)") {
                bytes.withUnsafeMutableBytes { raw in
                    var vector = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
                    return cpg_mcast_joined(handle, CPG_TYPE_AGREED, &vector, 1)
                }
            }
        }
    }

    /// The id of the node this process runs on.
    public func localNodeID() throws(CorosyncError) -> NodeID {
        let handle = self.handle
        return try loop.perform { () throws(CorosyncError) in
            var nodeID: UInt32 = 0
            try retrying("cpg_local_get") { cpg_local_get(handle, &nodeID) }
            return NodeID(nodeID)
        }
    }

    /// The largest message that is sent in one piece.
    public func maximumAtomicMessageSize() throws(CorosyncError) -> Int {
        let handle = self.handle
        return try loop.perform { () throws(CorosyncError) in
            var size: UInt32 = 0
            try check(cpg_max_atomic_msgsize_get(handle, &size), "cpg_max_atomic_msgsize_get")
            return Int(size)
        }
    }

    /// The current members of the joined group.
    public func members() throws(CorosyncError) -> [CPGMember] {
        guard let group = joined.withLock({ $0 }) else {
            throw CorosyncError.notExist.during("cpg_membership_get: this handle has not joined a group")
        }
        let handle = self.handle
        return try loop.perform { () throws(CorosyncError) in
            var name = makeCName(group)
            var list = [cpg_address](repeating: cpg_address(), count: Int(CPG_MEMBERS_MAX))
            var count = Int32(list.count)
            try retrying("cpg_membership_get(\(group))") { cpg_membership_get(handle, &name, &list, &count) }
            return memberChanges(list, Int(count)).map(\.member)
        }
    }

    /// Every group in the cluster with its members, as `corosync-cpgtool` lists them.
    public func groups() throws(CorosyncError) -> [CPGGroupMembership] {
        let handle = self.handle
        return try loop.perform { () throws(CorosyncError) in
            var iteration = cpg_iteration_handle_t()
            try retrying("cpg_iteration_initialize") {
                cpg_iteration_initialize(handle, CPG_ITERATION_ALL, nil, &iteration)
            }
            defer { cpg_iteration_finalize(iteration) }
            var order: [String] = []
            var members: [String: [CPGMember]] = [:]
            while true {
                var description = cpg_iteration_description_t()
                let result = cpg_iteration_next(iteration, &description)
                if result == CS_ERR_NO_SECTIONS { break }
                try check(result, "cpg_iteration_next")
                let name = groupName(description.group)
                if members[name] == nil { order.append(name) }
                members[name, default: []].append(CPGMember(nodeID: NodeID(description.nodeid), pid: description.pid))
            }
            return order.sorted().map { CPGGroupMembership(group: $0, members: members[$0] ?? []) }
        }
    }

    /// Finalizes the handle and ends ``events``. Safe to call more than once; using the handle afterwards
    /// is a programming error.
    public func close() {
        loop.close()
    }
}
