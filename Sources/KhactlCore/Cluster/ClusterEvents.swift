import Corosync
import Foundation
import Synchronization

/// One event of the cluster as `khactl watch` reports it.
package enum ClusterEvent: Hashable, Sendable {
    /// A new membership formed (from the quorum service's node list notification).
    case membership(QuorumNodeListChange)
    /// The quorum state, the current one first.
    case quorum(QuorumState)
    /// The watchers' CPG group changed (a watcher started or ended on some node).
    case cpg(CPGConfigurationChange)
    /// The connection to corosync was lost; `reason` says how.
    case disconnected(reason: String)
    /// The connection to corosync is back after `attempts` tries.
    case reconnected(attempts: Int)
    /// A Pacemaker alert (resource, node, fencing or attribute event), shared by the watchers' CPG group.
    case alert(PacemakerAlert)
    /// A watcher of the group proved it holds the cluster's key (its sealed announcement was delivered);
    /// `settled`: it already knew the group when it announced (its leader, if any, was emitting).
    /// khactl's own bookkeeping for ``LeaderFilter``: `khactl watch` never emits it.
    case watcherAnnounced(CPGMember, settled: Bool)

    /// `membership`, `quorum`, `cpg` or `connection`.
    package var kind: String {
        switch self {
        case .membership: "membership"
        case .quorum: "quorum"
        case .cpg: "cpg"
        case .disconnected, .reconnected: "connection"
        case .alert(let alert): alert.kind
        case .watcherAnnounced: "watcher"
        }
    }

    /// The event's fields, without time, kind and node.
    package var fields: [String: JSONValue] {
        func ids(_ list: [NodeID]) -> JSONValue { .array(list.map { .integer(Int64($0.rawValue)) }) }
        func changes(_ list: [CPGMemberChange]) -> JSONValue {
            .array(list.map {
                ["nodeID": .integer(Int64($0.member.nodeID.rawValue)), "pid": .integer(Int64($0.member.pid)), "reason": .string($0.reason.description)]
            })
        }
        switch self {
        case .membership(let change):
            return ["ringID": .string(change.ringID.description), "members": ids(change.members), "joined": ids(change.joined), "left": ids(change.left)]
        case .quorum(let state):
            return ["quorate": .bool(state.quorate), "ringID": .string(state.ringID.description), "members": ids(state.members)]
        case .cpg(let change):
            return [
                "group": .string(change.group),
                "members": .array(change.members.map { ["nodeID": .integer(Int64($0.nodeID.rawValue)), "pid": .integer(Int64($0.pid))] }),
                "joined": changes(change.joined), "left": changes(change.left),
            ]
        case .disconnected(let reason):
            return ["state": "disconnected", "reason": .string(reason)]
        case .reconnected(let attempts):
            return ["state": "reconnected", "attempts": .integer(Int64(attempts))]
        case .alert(let alert):
            return alert.fields
        case .watcherAnnounced(let member, let settled):
            return ["nodeID": .integer(Int64(member.nodeID.rawValue)), "pid": .integer(Int64(member.pid)), "settled": .bool(settled)]
        }
    }

    /// One human-readable line.
    package var text: String {
        func list(_ ids: [NodeID]) -> String { ids.isEmpty ? "-" : ids.map(\.description).joined(separator: ",") }
        switch self {
        case .membership(let change):
            return "membership ring \(change.ringID): members \(list(change.members)) joined \(list(change.joined)) left \(list(change.left))"
        case .quorum(let state):
            return "quorum \(state.quorate ? "quorate" : "NOT quorate") ring \(state.ringID): members \(list(state.members))"
        case .cpg(let change):
            let joined = change.joined.map { "\($0.member) (\($0.reason))" }.joined(separator: " ")
            let left = change.left.map { "\($0.member) (\($0.reason))" }.joined(separator: " ")
            return "cpg \(change.group): members \(change.members.map(\.description).joined(separator: " "))"
                + (joined.isEmpty ? "" : "; joined \(joined)") + (left.isEmpty ? "" : "; left \(left)")
        case .disconnected(let reason):
            return "connection lost: \(reason)"
        case .reconnected(let attempts):
            return "connection restored after \(attempts) attempt(s)"
        case .alert(let alert):
            return alert.text
        case .watcherAnnounced(let member, let settled):
            return "watcher \(member) holds the cluster's key\(settled ? " (settled)" : "")"
        }
    }
}

/// Watches corosync membership, quorum and the watchers' CPG group as one stream.
package struct ClusterEventSource: Sendable {
    /// Where corosync runs.
    package let endpoint: CorosyncEndpoint
    /// The CPG group the watcher joins, so watchers on all nodes see each other.
    package let group: CPGGroupName
    /// Reconnect with backoff when corosync goes away, reporting it in the stream, instead of ending.
    package let reconnect: Bool
    /// The longest pause between reconnection attempts.
    package let maximumBackoff: Duration

    /// The default group of khactl's watchers.
    package static let defaultGroup = try! CPGGroupName("khactl-watch")

    /// Creates a source.
    /// Where Pacemaker's alerts arrive (`khactl alert install`); nil: no alerts.
    package let alertSocket: String?
    /// The key that authenticates alerts relayed between watchers and their announcements (derived from
    /// corosync's authkey); without it, alerts are neither relayed nor taken from the group, and the watcher
    /// does not announce itself (so `--leader-only` watchers elsewhere never let it lead).
    package let watcherKey: WatcherKey?
    /// Whether this watcher's leader filter knows the group (what its announcements say); nil: always.
    package let settled: (@Sendable () -> Bool)?

    package init(
        endpoint: CorosyncEndpoint = .local,
        group: CPGGroupName = ClusterEventSource.defaultGroup,
        reconnect: Bool = false,
        maximumBackoff: Duration = .seconds(2),
        alertSocket: String? = nil,
        watcherKey: WatcherKey? = nil,
        settled: (@Sendable () -> Bool)? = nil
    ) {
        self.settled = settled
        self.endpoint = endpoint
        self.group = group
        self.reconnect = reconnect
        self.maximumBackoff = maximumBackoff
        self.alertSocket = alertSocket
        self.watcherKey = watcherKey
    }

    /// The CPG handle alerts are relayed through, while connected, and the key that authenticates them.
    private final class Relay: Sendable {
        let cpg = Mutex<(handle: CPG, me: CPGMember)?>(nil)
        let dropped = Mutex(0)
        let refused = Mutex(0)
        let duplicates = Mutex(AlertDeduplicator())
        let key: WatcherKey?

        init(key: WatcherKey?) { self.key = key }

        func send(_ alert: PacemakerAlert) {
            let sent = cpg.withLock { cpg -> Bool in
                guard let cpg, let key else { return false }
                return (try? cpg.handle.send(key.seal(alert.encoded(), sender: cpg.me))) != nil
            }
            if !sent { dropped.withLock { $0 += 1 } }
        }

        /// A watcher's announcement: it holds the key (sent whenever someone joins the group), and whether it
        /// already knew the group.
        static let announcement = Array("khactl-watch announce v1".utf8)
        static let settledAnnouncement = Array("khactl-watch announce v1 settled".utf8)

        /// Announces this watcher to the group, off the handle's own thread (a send waits for that thread).
        func announce(through handle: CPG, as me: CPGMember, settled: Bool) {
            guard let key else { return }
            let message = key.seal(settled ? Self.settledAnnouncement : Self.announcement, sender: me)
            DispatchQueue.global().async { try? handle.send(message) }
        }

        /// What a message from a watcher carries, once its code verifies.
        enum Received {
            case alert(PacemakerAlert)
            case announcement(settled: Bool)
        }

        /// The alert or announcement in a message from a watcher, if its code verifies.
        func receive(_ message: CPGMessage) -> Received? {
            if let key, let payload = key.open(message.bytes, sender: message.sender) {
                if payload == Self.announcement { return .announcement(settled: false) }
                if payload == Self.settledAnnouncement { return .announcement(settled: true) }
                if let alert = PacemakerAlert.decode(payload) { return .alert(alert) }
            }
            let count = refused.withLock { value -> Int in
                value += 1
                return value
            }
            // Logged on the 1st, 2nd, 4th, ... refusal.
            if count & (count - 1) == 0 {
                FileHandle.standardError.write(Data(
                    "khactl watch: a message in the watchers' group from node \(message.sender.nodeID.rawValue) pid \(message.sender.pid) was refused: not an alert or announcement authenticated with the cluster's key (\(count) refused so far)\n".utf8))
            }
            return nil
        }
    }

    /// Where events go: into the stream, or to the caller's handler, one call at a time (events come from
    /// both handles' threads and from the reconnecting task).
    private final class Emitter: Sendable {
        let continuation: Continuation
        let handler: (@Sendable (NodeID, ClusterEvent) -> Void)?
        private let serial = Mutex(())

        init(_ continuation: Continuation, handler: (@Sendable (NodeID, ClusterEvent) -> Void)?) {
            self.continuation = continuation
            self.handler = handler
        }

        func emit(_ item: (node: NodeID, event: ClusterEvent)) {
            if let handler {
                serial.withLock { _ in handler(item.node, item.event) }
            } else {
                continuation.yield(item)
            }
        }
    }

    /// Holds a new session's events back until the watcher has said it reconnected, then lets them through
    /// in order; emits under its lock so that nothing overtakes what it held.
    private final class Gate: Sendable {
        private let held = Mutex<[(node: NodeID, event: ClusterEvent)]?>([])
        private let emitter: Emitter

        init(_ emitter: Emitter) { self.emitter = emitter }

        func yield(_ item: (node: NodeID, event: ClusterEvent)) {
            held.withLock { held in
                if held != nil {
                    held!.append(item)
                } else {
                    emitter.emit(item)
                }
            }
        }

        func open() {
            held.withLock { held in
                for item in held ?? [] { emitter.emit(item) }
                held = nil
            }
        }
    }

    /// A connected session: the handles and the local node id.
    private struct Session: Sendable {
        let quorum: Quorum
        let cpg: CPG
        let localNodeID: NodeID
        let gate: Gate

        func close() {
            cpg.close()
            quorum.close()
        }
    }

    private typealias Continuation = AsyncThrowingStream<(node: NodeID, event: ClusterEvent), any Error>.Continuation

    /// Opens both handles with event handlers that emit straight into the watcher's stream (or handler), on one
    /// thread that polls both, as a C watcher's single loop does: no task hop per event between corosync and
    /// the consumer, and one thread to wake when a membership change reaches both services (measured against
    /// a C watcher in Scripts/bench.sh). The CPG handle comes first, for the local node id every event
    /// carries; it delivers nothing before it joins the group, which it does last.
    private func connect(into emitter: Emitter, relay: Relay) throws -> Session {
        let localNodeID = Atomic<UInt32>(0)
        let gate = Gate(emitter)
        let thread = CorosyncThread(name: "khactl.watch")
        let handle = Mutex<CPG?>(nil)
        let cpg = try CPG(endpoint: endpoint, totemChanges: false, thread: thread) { event in
            let node = NodeID(localNodeID.load(ordering: .acquiring))
            switch event {
            case .configurationChange(let change):
                gate.yield((node, .cpg(change)))
                // Someone joined (this watcher included): every watcher says again that it holds the key, so the
                // newcomer learns who may lead.
                if !change.joined.isEmpty, let cpg = handle.withLock({ $0 }) {
                    relay.announce(through: cpg, as: CPGMember(nodeID: node, pid: UInt32(getpid())), settled: settled?() ?? true)
                }
            case .message(let message):
                switch relay.receive(message) {
                case .announcement(let settled):
                    gate.yield((node, .watcherAnnounced(message.sender, settled: settled)))
                case .alert(let alert):
                    // Every watcher sees the same alerts in the same order, so each keeps the same one of an
                    // alert that every node's Pacemaker raised.
                    guard relay.duplicates.withLock({ $0.admit(alert) }) else { return }
                    gate.yield((node, .alert(alert)))
                case nil:
                    return
                }
            default:
                break
            }
        }
        handle.withLock { $0 = cpg }
        do {
            let node = try cpg.localNodeID()
            localNodeID.store(node.rawValue, ordering: .releasing)
            let quorum = try Quorum(endpoint: endpoint, thread: thread) { event in
                switch event {
                case .quorum(let state): gate.yield((node, .quorum(state)))
                case .nodeList(let change): gate.yield((node, .membership(change)))
                }
            }
            do {
                try cpg.join(group)
                return Session(quorum: quorum, cpg: cpg, localNodeID: node, gate: gate)
            } catch {
                quorum.close()
                throw error
            }
        } catch {
            cpg.close()
            throw error
        }
    }

    /// Connects (throwing at once when corosync cannot be reached) and returns the events with the local
    /// node id they were seen on. The stream ends with the connection's error unless ``reconnect`` is set.
    ///
    /// With a `handler`, every event goes to it instead, as it arrives, one call at a time, on the thread
    /// that received it (the thread that polls both corosync handles): no task hop between corosync and the
    /// consumer, which `khactl watch` measures against a C watcher. The handler must not block for long; the
    /// stream then carries no events and only ends.
    package func events(
        handler: (@Sendable (NodeID, ClusterEvent) -> Void)? = nil
    ) throws -> AsyncThrowingStream<(node: NodeID, event: ClusterEvent), any Error> {
        let relay = Relay(key: watcherKey)
        let (stream, continuation) = AsyncThrowingStream<(node: NodeID, event: ClusterEvent), any Error>.makeStream()
        let emitter = Emitter(continuation, handler: handler)
        let first = try connect(into: emitter, relay: relay)
        first.gate.open()
        let socket: AlertSocket?
        do {
            socket = try alertSocket.map { path in
                try AlertSocket(path: path, handler: { relay.send($0) }) { refusal in
                    FileHandle.standardError.write(Data("khactl watch: \(refusal)\n".utf8))
                }
            }
        } catch {
            first.close()
            throw error
        }
        let task = Task {
            defer { socket?.close() }
            var session = first
            while !Task.isCancelled {
                relay.cpg.withLock { $0 = (session.cpg, CPGMember(nodeID: session.localNodeID, pid: UInt32(getpid()))) }
                let failure = await pump(session)
                relay.cpg.withLock { $0 = nil }
                session.close()
                guard let failure, !Task.isCancelled else { break }
                guard reconnect else {
                    continuation.finish(throwing: failure)
                    return
                }
                emitter.emit((session.localNodeID, .disconnected(reason: String(describing: failure))))
                guard let next = await reconnectWithBackoff(into: emitter, relay: relay) else { break }
                session = next.session
                emitter.emit((session.localNodeID, .reconnected(attempts: next.attempts)))
                session.gate.open()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Waits until either handle ends (their handlers deliver the events); returns its error, or nil when
    /// cancelled.
    private func pump(_ session: Session) async -> (any Error)? {
        await withTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                do {
                    for try await _ in session.quorum.events {}
                    return Task.isCancelled ? nil : CorosyncError.library.during("quorum event stream ended")
                } catch {
                    return error
                }
            }
            group.addTask {
                do {
                    for try await _ in session.cpg.events {}
                    return Task.isCancelled ? nil : CorosyncError.library.during("cpg event stream ended")
                } catch {
                    return error
                }
            }
            // Cancellation of the watcher reaches the handles through their streams' termination.
            let first = await group.next() ?? nil
            session.close()
            group.cancelAll()
            return first
        }
    }

    /// Reconnects until it works or the task is cancelled, pausing as the webhook sink does (``RetryPolicy``:
    /// ceilings from 200 ms doubling up to `maximumBackoff`, each pause a random point in the upper half).
    private func reconnectWithBackoff(into emitter: Emitter, relay: Relay) async -> (session: Session, attempts: Int)? {
        let policy = RetryPolicy(attempts: .max, baseDelay: .milliseconds(200), maximumDelay: maximumBackoff)
        var attempts = 0
        while !Task.isCancelled {
            attempts += 1
            if let session = try? connect(into: emitter, relay: relay) { return (session, attempts) }
            try? await Task.sleep(for: policy.delay(after: attempts))
        }
        return nil
    }
}

extension CorosyncError {
    /// The same error with a different operation text (for stream ends that carry no code of their own).
    func during(_ operation: String) -> CorosyncError { CorosyncError(code: code, operation: operation) }
}
