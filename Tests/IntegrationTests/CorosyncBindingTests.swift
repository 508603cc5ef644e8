import Corosync
import Foundation
import Synchronization
import Testing
import TestSupport

/// The bindings against a real corosync in namespaces of the test's own.
@Suite("Corosync bindings on a real corosync", .serialized)
struct CorosyncBindingTests {
    @Test("CPG reports the local node, its membership and the groups")
    func localMembership() async throws {
        try await withCorosync { node in
            let cpg = try CPG(endpoint: node.endpoint)
            defer { cpg.close() }
            #expect(try cpg.localNodeID() == NodeID(1))
            try cpg.join(CPGGroupName("khactl-local"))
            let events = EventCollector(cpg.events)
            defer { events.cancel() }
            // The first totem change is the current ring (CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF).
            let seen = try await events.wait(for: "the initial totem ring and our own join") { events in
                events.contains { if case .totemChange = $0 { true } else { false } }
                    && events.contains { if case .configurationChange = $0 { true } else { false } }
            }
            let ring = seen.compactMap { if case .totemChange(let ring) = $0 { ring } else { nil } }.first
            #expect(ring?.members == [NodeID(1)])
            let change = seen.compactMap { if case .configurationChange(let change) = $0 { change } else { nil } }.first
            let me = CPGMember(nodeID: NodeID(1), pid: UInt32(getpid()))
            #expect(change?.group == "khactl-local")
            #expect(change?.joined == [CPGMemberChange(member: me, reason: .join)])
            #expect(try cpg.members() == [me])
            let groups = try cpg.groups()
            #expect(groups.contains(CPGGroupMembership(group: "khactl-local", members: [me])))
            try cpg.leave()
            try await events.wait(for: "our own leave") { events in
                events.contains { $0 == .configurationChange(CPGConfigurationChange(
                    group: "khactl-local", members: [], joined: [], left: [CPGMemberChange(member: me, reason: .leave)])) }
            }
            #expect(try !cpg.groups().contains { $0.group == "khactl-local" })
        }
    }

    @Test("Two processes in one CPG group see each other join, agree on message order, and see a kill as process down")
    func twoProcesses() async throws {
        try await withCorosync { node in
            let group = try CPGGroupName("khactl-order")
            let cpg = try CPG(endpoint: node.endpoint, totemChanges: false)
            defer { cpg.close() }
            try cpg.join(group)
            let events = EventCollector(cpg.events)
            defer { events.cancel() }

            let peer = Process()
            peer.executableURL = productsDirectory.appendingPathComponent("cpg-peer")
            peer.arguments = [node.namespacePath, group.value, "peer", "25", "2"]
            let pipe = Pipe()
            peer.standardOutput = pipe
            peer.standardError = pipe
            let output = LineCollector(pipe)
            try peer.run()
            defer { TestCorosync.terminate(peer, grace: 1) }
            let peerMember = CPGMember(nodeID: NodeID(1), pid: UInt32(peer.processIdentifier))

            try await output.wait(for: "the peer to join") { $0.contains("ready 1 \(peer.processIdentifier)") }
            try await events.wait(for: "the peer's join") { events in
                events.contains {
                    guard case .configurationChange(let change) = $0 else { return false }
                    return change.joined == [CPGMemberChange(member: peerMember, reason: .join)] && change.members.count == 2
                }
            }
            // Both send at once; agreed ordering means both see one and the same interleaving.
            for index in 0..<25 { try cpg.send(Array("self-\(index)".utf8)) }
            let ours = try await events.wait(for: "50 messages") { events in
                events.filter { if case .message = $0 { true } else { false } }.count >= 50
            }
            .compactMap { event -> String? in
                guard case .message(let message) = event else { return nil }
                return String(decoding: message.bytes, as: UTF8.self)
            }
            let theirs = try await output.wait(for: "the peer's 50 messages") { lines in
                lines.filter { $0.hasPrefix("msg ") }.count >= 50
            }
            .filter { $0.hasPrefix("msg ") }.map { String($0.dropFirst(4)) }
            #expect(ours.count == 50)
            #expect(ours == theirs)
            #expect(Set(ours).count == 50)
            // Each sender's messages arrive in the order it sent them.
            #expect(ours.filter { $0.hasPrefix("self-") } == (0..<25).map { "self-\($0)" })
            #expect(ours.filter { $0.hasPrefix("peer-") } == (0..<25).map { "peer-\($0)" })
            let senders = events.events.compactMap { if case .message(let m) = $0 { m.sender } else { nil } }
            #expect(Set(senders) == [peerMember, CPGMember(nodeID: NodeID(1), pid: UInt32(getpid()))])

            kill(peer.processIdentifier, SIGKILL)
            let after = try await events.wait(for: "the peer's process-down") { events in
                events.contains {
                    guard case .configurationChange(let change) = $0 else { return false }
                    return change.left.contains { $0.member == peerMember }
                }
            }
            let left = after.compactMap { event -> CPGConfigurationChange? in
                guard case .configurationChange(let change) = event, !change.left.isEmpty else { return nil }
                return change
            }.last
            #expect(left?.left == [CPGMemberChange(member: peerMember, reason: .processDown)])
            #expect(left?.members == [CPGMember(nodeID: NodeID(1), pid: UInt32(getpid()))])
        }
    }

    @Test("Quorum and votequorum report a quorate single node")
    func quorum() async throws {
        try await withCorosync { node in
            let quorum = try Quorum(endpoint: node.endpoint)
            defer { quorum.close() }
            #expect(quorum.hasProvider)
            #expect(try quorum.isQuorate())
            let events = EventCollector(quorum.events)
            defer { events.cancel() }
            let seen = try await events.wait(for: "the current quorum state") { events in
                events.contains { if case .quorum = $0 { true } else { false } }
            }
            guard case .quorum(let state)? = seen.first(where: { if case .quorum = $0 { true } else { false } }) else {
                Issue.record("no quorum state")
                return
            }
            #expect(state.quorate)
            #expect(state.members == [NodeID(1)])
            #expect(state.ringID.nodeID == NodeID(1))

            let votequorum = try Votequorum(endpoint: node.endpoint)
            defer { votequorum.close() }
            let info = try votequorum.info(of: NodeID(1))
            #expect(info.nodeID == NodeID(1))
            #expect(info.state == .member)
            #expect(info.votes == 1)
            #expect(info.expectedVotes == 1)
            #expect(info.totalVotes == 1)
            #expect(info.quorum == 1)
            #expect(info.flags.contains(.quorate))
            #expect(!info.flags.contains(.twoNode))
            let voteEvents = EventCollector(votequorum.events)
            defer { voteEvents.cancel() }
            try await voteEvents.wait(for: "votequorum's current state") { events in
                events.contains { $0 == .quorum(quorate: true, nodes: [VotequorumNode(nodeID: NodeID(1), state: .member)]) }
            }
            // A node that is not configured is refused by corosync, and the error says so.
            #expect(throws: CorosyncError.self) { try votequorum.info(of: NodeID(77)) }
        }
    }

    @Test("An event handler gets the events on the handle's queue; the stream then only ends")
    func eventHandlers() async throws {
        try await withCorosync { node in
            let received = Mutex<[String]>([])
            let quorum = try Quorum(endpoint: node.endpoint) { event in
                if case .quorum(let state) = event { received.withLock { $0.append("quorum \(state.quorate)") } }
            }
            let cpg = try CPG(endpoint: node.endpoint, totemChanges: false) { event in
                if case .configurationChange(let change) = event { received.withLock { $0.append("cpg \(change.group) \(change.members.count)") } }
                if case .message(let message) = event { received.withLock { $0.append("message \(String(decoding: message.bytes, as: UTF8.self))") } }
            }
            try cpg.join(CPGGroupName("khactl-handler"))
            try cpg.send(Array("one".utf8))
            try cpg.send(Array("two".utf8))
            let deadline = ContinuousClock.now + .seconds(10)
            while received.withLock({ $0.count }) < 4 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let seen = received.withLock { $0 }
            #expect(seen.contains("quorum true"), "\(seen)")
            #expect(seen.filter { !$0.hasPrefix("quorum") } == ["cpg khactl-handler 1", "message one", "message two"], "\(seen)")
            // The streams carry nothing and end, without error, when the handles close.
            let streams = Task {
                var count = 0
                for try await _ in quorum.events { count += 1 }
                for try await _ in cpg.events { count += 1 }
                return count
            }
            quorum.close()
            cpg.close()
            #expect(try await streams.value == 0)
        }
    }

    @Test("Handles on one CorosyncThread: one thread delivers both, one closes while the other goes on, a close from the other's handler, then the thread ends")
    func sharedThread() async throws {
        try await withCorosync { node in
            /// The calling thread's kernel name.
            @Sendable func threadName() -> String {
                ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            func threadsNamed(_ name: String) -> Int {
                let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
                return tasks.filter { ((try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)) ?? "").hasPrefix(name) }.count
            }
            let received = Mutex<[String]>([])
            let threads = Mutex<Set<String>>([])
            let thread = CorosyncThread(name: "khactl.shared")
            let quorum = try Quorum(endpoint: node.endpoint, thread: thread) { event in
                threads.withLock { _ = $0.insert(threadName()) }
                if case .quorum(let state) = event { received.withLock { $0.append("quorum \(state.quorate)") } }
            }
            let closeQuorumOnMessage = Atomic<Bool>(false)
            let cpg = try CPG(endpoint: node.endpoint, totemChanges: false, thread: thread) { event in
                threads.withLock { _ = $0.insert(threadName()) }
                if case .message(let message) = event {
                    received.withLock { $0.append("message \(String(decoding: message.bytes, as: UTF8.self))") }
                    // Closing a handle of the same thread from a handler must not wait for that thread.
                    if closeQuorumOnMessage.load(ordering: .relaxed) { quorum.close() }
                }
            }
            defer { cpg.close() }
            func wait(for entry: String) async throws {
                let deadline = ContinuousClock.now + .seconds(10)
                while !received.withLock({ $0.contains(entry) }) {
                    guard ContinuousClock.now < deadline else { throw TestSetupError("no \"\(entry)\" within 10 s: \(received.withLock { $0 })") }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            try cpg.join(CPGGroupName("khactl-shared"))
            try cpg.send(Array("one".utf8))
            try await wait(for: "quorum true")
            try await wait(for: "message one")
            #expect(threads.withLock { $0 } == ["khactl.shared"], "handlers ran on \(threads.withLock { $0 })")
            #expect(threadsNamed("khactl.shared") == 1)

            closeQuorumOnMessage.store(true, ordering: .relaxed)
            try cpg.send(Array("two".utf8))
            try await wait(for: "message two")
            // The quorum handle is closed (its stream ends without error); the CPG handle still delivers.
            let quorumEnd = Task {
                var count = 0
                for try await _ in quorum.events { count += 1 }
                return count
            }
            #expect(try await quorumEnd.value == 0)
            closeQuorumOnMessage.store(false, ordering: .relaxed)
            try cpg.send(Array("three".utf8))
            try await wait(for: "message three")
            #expect(threadsNamed("khactl.shared") == 1)

            cpg.close()
            let deadline = ContinuousClock.now + .seconds(5)
            while threadsNamed("khactl.shared") > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(threadsNamed("khactl.shared") == 0, "the thread outlived its last handle")
            // A handle opened on it later starts it again.
            let again = try Quorum(endpoint: node.endpoint, thread: thread)
            defer { again.close() }
            #expect(try again.isQuorate())
            var first: QuorumEvent?
            for try await event in again.events {
                first = event
                break
            }
            #expect(first != nil)
            #expect(threadsNamed("khactl.shared") == 1)
        }
    }

    @Test("cmap reads the nodelist and totem settings written in corosync.conf")
    func cmap() async throws {
        try await withCorosync { node in
            let cmap = try CMap(endpoint: node.endpoint)
            defer { cmap.close() }
            #expect(try cmap.nodeList() == [NodeListEntry(nodeID: NodeID(1), name: "alpha", addresses: ["127.0.0.1"])])
            #expect(try cmap.string("totem.cluster_name") == "khtest")
            #expect(try cmap.integer("totem.token") == 1000)
            #expect(try cmap.integer("runtime.votequorum.this_node_id") == 1)
            #expect(try cmap.value("no.such.key") == nil)
            let runtime = try cmap.entries(prefix: "runtime.members.")
            #expect(runtime.contains { $0.key == "runtime.members.1.status" && $0.value == .string("joined") })
            let keys = try cmap.entries(prefix: "nodelist.node.0.").map(\.key)
            #expect(keys == ["nodelist.node.0.name", "nodelist.node.0.nodeid", "nodelist.node.0.ring0_addr"])
        }
    }

    @Test("corosync stopped under a running stream ends it with the library error; later calls throw it")
    func corosyncStopsMidStream() async throws {
        try await withCorosync { node in
            let quorum = try Quorum(endpoint: node.endpoint)
            defer { quorum.close() }
            let cpg = try CPG(endpoint: node.endpoint)
            defer { cpg.close() }
            try cpg.join(CPGGroupName("khactl-stop"))
            let quorumEvents = EventCollector(quorum.events)
            let cpgEvents = EventCollector(cpg.events)
            try await quorumEvents.wait(for: "the first quorum event") { !$0.isEmpty }
            node.stopCorosync()
            for end in [try await quorumEvents.waitForEnd(), try await cpgEvents.waitForEnd()] {
                guard case .failure(let error) = end, let corosyncError = error as? CorosyncError else {
                    Issue.record("the stream ended with \(end), not a CorosyncError")
                    continue
                }
                #expect(corosyncError == .library)
                #expect(String(describing: corosyncError).contains("corosync is not running or not reachable"))
            }
            #expect(throws: CorosyncError.library) { try cpg.send([1, 2, 3]) }
        }
    }

    @Test("Connecting where no corosync runs throws CorosyncError.library, never traps")
    func notRunning() async throws {
        try TestCorosync.requireRootAndNamespaces()
        let holder = try ChildProcess.spawn("/usr/bin/unshare", ["--net", "--", "sleep", "100000"])
        defer { holder.terminate(grace: 1) }
        try await Task.sleep(for: .milliseconds(200))
        let empty = CorosyncEndpoint.networkNamespace("/proc/\(holder.pid)/ns/net")
        #expect(throws: CorosyncError.library) { _ = try CPG(endpoint: empty) }
        #expect(throws: CorosyncError.library) { _ = try Quorum(endpoint: empty) }
        #expect(throws: CorosyncError.library) { _ = try Votequorum(endpoint: empty) }
        #expect(throws: CorosyncError.library) { _ = try CMap(endpoint: empty) }
        #expect(throws: NamespaceError.self) { _ = try CMap(endpoint: .networkNamespace("/nonexistent/ns")) }
    }

    @Test("1,000 handles opened and closed return fd count and memory to where they were")
    func noLeaks() async throws {
        try await withCorosync { node in
            func cycle(_ count: Int) throws {
                for index in 0..<count {
                    switch index % 4 {
                    case 0:
                        let cpg = try CPG(endpoint: node.endpoint)
                        try cpg.join(CPGGroupName("leak-\(index)"))
                        cpg.close()
                    case 1:
                        let quorum = try Quorum(endpoint: node.endpoint)
                        _ = try quorum.isQuorate()
                        quorum.close()
                    case 2:
                        let votequorum = try Votequorum(endpoint: node.endpoint)
                        _ = try votequorum.info(of: NodeID(1))
                        votequorum.close()
                    default:
                        let cmap = try CMap(endpoint: node.endpoint)
                        _ = try cmap.nodeList()
                        cmap.close()
                    }
                }
            }
            try cycle(100)  // warm-up: allocator pools, Dispatch's threads, libqb's lazy state
            try await Task.sleep(for: .milliseconds(200))  // and Dispatch's timerfd, made on first use
            let fdsBefore = openFileDescriptors()
            let rssBefore = residentKiB()
            try cycle(1000)
            // Handles dropped without close() are torn down by deinit just the same.
            for _ in 0..<50 { _ = try CPG(endpoint: node.endpoint) }
            try await Task.sleep(for: .milliseconds(200))
            let fdsAfter = openFileDescriptors()
            let rssAfter = residentKiB()
            #expect(
                fdsAfter.count == fdsBefore.count,
                "open fds went from \(fdsBefore.count) to \(fdsAfter.count): new \(Set(fdsAfter).subtracting(fdsBefore).sorted()), gone \(Set(fdsBefore).subtracting(fdsAfter).sorted())")
            // Memory returns to where it was, give or take the allocator's slack (a leak of one
            // libqb connection per handle would be several MiB here).
            #expect(rssAfter - rssBefore < 3 * 1024, "RSS went from \(rssBefore) KiB to \(rssAfter) KiB")
        }
    }

    @Test("Bad group names are rejected before they reach corosync")
    func badGroupName() async throws {
        #expect(throws: CPGGroupNameError.tooLong(name: String(repeating: "g", count: 128), bytes: 128)) {
            try CPGGroupName(String(repeating: "g", count: 128))
        }
        #expect(throws: CPGGroupNameError.empty) { try CPGGroupName("") }
        #expect(throws: CPGGroupNameError.containsNUL) { try CPGGroupName("a\0b") }
        // The longest valid name works on a real corosync, end to end.
        try await withCorosync { node in
            let cpg = try CPG(endpoint: node.endpoint)
            defer { cpg.close() }
            let longest = try CPGGroupName(String(repeating: "é", count: 63) + "x")
            try cpg.join(longest)
            let events = EventCollector(cpg.events)
            defer { events.cancel() }
            try await events.wait(for: "the join under the longest name") { events in
                events.contains { if case .configurationChange(let change) = $0 { change.group == longest.value } else { false } }
            }
            #expect(try cpg.groups().contains { $0.group == longest.value })
        }
    }
}

/// The open fds of this process that are not pipes. Pipes belong to the subprocesses other tests ran;
/// Foundation closes them when their `Process` objects go, on its own schedule. A corosync client handle
/// holds sockets, shared-memory files and eventfds, which are all counted.
func openFileDescriptors() -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.compactMap { entry in
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)")) ?? ""
        // An empty target is the fd of this very directory listing, already closed.
        return target.isEmpty || target.hasPrefix("pipe:") ? nil : "\(entry) \(target)"
    }.sorted()
}

func residentKiB() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
    let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
}
