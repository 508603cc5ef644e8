import ClusterExec
import Corosync
import Crypto
import Foundation
import Synchronization

/// corosync's configured nodelist and its current members, as the local corosync has them.
package struct LiveMembership: Sendable {
    /// The nodelist corosync runs with (from cmap: what it read at start or at the last reload).
    package var nodes: [NodeListEntry]
    /// The nodes in the current membership (`runtime.members.ID.status` is `joined`).
    package var members: Set<NodeID>
    /// Whether votequorum runs with two_node now.
    package var twoNode: Bool

    /// Reads it from the local corosync.
    package static func read(endpoint: CorosyncEndpoint = .local) throws -> LiveMembership {
        let cmap = try CMap(endpoint: endpoint)
        defer { cmap.close() }
        let nodes = try cmap.nodeList()
        var members: Set<NodeID> = []
        for (key, value) in try cmap.entries(prefix: "runtime.members.") {
            let parts = key.split(separator: ".")
            if parts.count == 4, parts[3] == "status", let id = UInt32(parts[2]), value.string == "joined" { members.insert(NodeID(id)) }
        }
        let twoNode = (try? cmap.integer("quorum.two_node")).map { $0 != 0 } ?? false
        return LiveMembership(nodes: nodes, members: members, twoNode: twoNode)
    }
}

/// One coordinated `corosync-cfgtool -R` for a new corosync.conf: it reloads every node at once, so it must
/// wait until every member holds the new file. Each node's khactl joins the CPG group `khactl-reload` and
/// announces the SHA-256 of the file it wrote, sealed with a key derived from corosync's authkey (any member
/// of haclient may join a CPG group; only root on a cluster node holds the key), again whenever someone
/// joins. Once every member of the membership announced the same file, the member with the lowest node id
/// reloads, once; the others see corosync's nodelist become the new one. A member that announces another
/// file stops everyone with an error, and a member that never announces one makes the barrier time out.
struct ReloadBarrier: Sendable {
    static let group = try! CPGGroupName("khactl-reload")
    static let purpose = "khactl reload barrier v1"

    /// The key (from corosync's authkey).
    let key: WatcherKey
    /// The new corosync.conf.
    let corosync: CorosyncConfig
    let timeout: Duration
    let runner: any CommandRunner
    let progress: @Sendable (String) -> Void

    private var digest: [UInt8] { Array(SHA256.hash(data: Data(corosync.render().utf8))) }

    /// What a run saw.
    struct Outcome: Sendable {
        /// Whether this node ran `corosync-cfgtool -R`.
        var reloaded: Bool
        /// The members that held the new file.
        var members: [NodeID]
    }

    private struct State {
        var held: [NodeID: [UInt8]] = [:]
        var announce = false
    }

    /// Whether `live` (the local corosync) runs with the new nodelist.
    private func inForce(_ live: LiveMembership?) -> Bool {
        guard let live else { return false }
        let want = Set(corosync.nodes.map { NodeListEntry(nodeID: NodeID($0.nodeID), name: $0.name, addresses: $0.addresses) })
        return Set(live.nodes) == want && live.twoNode == corosync.twoNode
    }

    func run() async throws -> Outcome {
        if inForce(try? LiveMembership.read()) { return Outcome(reloaded: false, members: []) }
        let state = Mutex(State())
        let thread = CorosyncThread(name: "khactl.reload")
        let cpg = try CPG(totemChanges: false, thread: thread) { event in
            switch event {
            case .configurationChange(let change):
                if !change.joined.isEmpty { state.withLock { $0.announce = true } }
            case .message(let message):
                guard let payload = key.open(message.bytes, sender: message.sender), payload.count == 32 else { return }
                state.withLock { $0.held[message.sender.nodeID] = payload }
            default:
                break
            }
        }
        defer { cpg.close() }
        try cpg.join(Self.group)
        let me = CPGMember(nodeID: try cpg.localNodeID(), pid: UInt32(getpid()))
        let mine = digest
        let deadline = ContinuousClock.now + timeout
        var waitingFor: [NodeID] = []
        var said = Set<[NodeID]>()
        while ContinuousClock.now < deadline {
            if state.withLock({ current in defer { current.announce = false }; return current.announce }) {
                try cpg.send(key.seal(mine, sender: me))
            }
            // One cmap read per pass: whether the reload happened, and who the members are.
            let live = try LiveMembership.read()
            if inForce(live) { return Outcome(reloaded: false, members: []) }
            let members = live.members
            let held = state.withLock { $0.held }
            if let (node, _) = held.first(where: { members.contains($0.key) && $0.value != mine }) {
                throw BootstrapError(
                    "node \(node) wrote another corosync.conf than this node: every node must run the same command with the same spec; "
                        + "corosync was not reloaded")
            }
            waitingFor = members.filter { held[$0] != mine && $0 != me.nodeID }.sorted()
            let ownArrived = held[me.nodeID] == mine
            if waitingFor.isEmpty && ownArrived {
                if me.nodeID == members.min() {
                    progress("every member (\(members.sorted().map(\.description).joined(separator: ", "))) holds the new corosync.conf; reloading corosync on all of them (corosync-cfgtool -R)")
                    do {
                        try await runner.check(Command("corosync-cfgtool", ["-R"], timeout: .seconds(30)))
                    } catch {
                        throw BootstrapError("corosync-cfgtool -R: \(error)")
                    }
                    return Outcome(reloaded: true, members: members.sorted())
                }
            } else if !waitingFor.isEmpty, said.insert(waitingFor).inserted {
                progress("waiting for node\(waitingFor.count == 1 ? "" : "s") \(waitingFor.map(\.description).joined(separator: ", ")) to write the same corosync.conf (run the same command there)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BootstrapError(
            "node\(waitingFor.count == 1 ? "" : "s") \(waitingFor.map(\.description).joined(separator: ", ")) did not write the same corosync.conf within \(timeout) "
                + "(run the same command with the same spec on every node of the cluster); corosync was not reloaded")
    }
}
