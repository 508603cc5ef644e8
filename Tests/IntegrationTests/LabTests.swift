import Foundation
import Testing
import TestSupport

/// `khactl lab` end to end: the built binary, real corosync, pacemaker, fence_redfish and lab BMCs.
@Suite("khactl lab", .serialized)
struct LabTests {
    /// A lab root of the test's own, removed afterwards.
    struct LabRoot {
        let path: String
        var environment: [String: String] { ["KHACTL_LAB_ROOT": path] }

        init() throws {
            try TestCorosync.requireRootAndNamespaces()
            path = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-lab-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }

        func run(_ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
            try runKhactl(arguments, environment: environment, timeout: timeout)
        }

        func json(_ arguments: [String]) throws -> [String: Any] {
            let result = try run(arguments)
            guard result.status == 0 else { throw TestSetupError("khactl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)") }
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
            return try #require(object as? [String: Any], "not a JSON object: \(result.stdout)")
        }

        /// PIDs recorded in a lab's state file.
        func recordedPIDs(_ name: String) -> [Int32] {
            guard let data = FileManager.default.contents(atPath: "\(path)/\(name)/lab.json"),
                let text = String(data: data, encoding: .utf8)
            else { return [] }
            return text.matches(of: #/"pid"\s*:\s*(\d+)/#).compactMap { Int32($0.output.1) }
        }

        /// Whether any process still has a mount of this lab root, or any file of it is left.
        func leftovers(_ name: String) -> [String] {
            var found: [String] = []
            if FileManager.default.fileExists(atPath: "\(path)/\(name)") { found.append("folder \(path)/\(name)") }
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
                if let mounts = try? String(contentsOfFile: "/proc/\(entry)/mountinfo", encoding: .utf8), mounts.contains("\(path)/\(name)/") {
                    found.append("process \(entry) has a mount of the lab")
                }
            }
            return found
        }

        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test("3-node lab: online with quorum 3, fence_redfish powers a node off, a drill moves the VIP, down leaves nothing")
    func threeNodes() async throws {
        let root = try LabRoot()
        defer {
            _ = try? root.run(["lab", "down"])
            root.remove()
        }
        let up = try root.run(["lab", "up", "--nodes", "3", "--example"], timeout: 180)
        #expect(up.status == 0, "lab up: \(up.stderr)")
        let pids = root.recordedPIDs("lab")
        // The switch, a holder and an init per node, a BMC per node (serving its own TLS: no proxy).
        let expectedProcesses = 10
        #expect(pids.count == expectedProcesses, "recorded \(pids)")

        // Every node online in pacemaker's own XML, quorate.
        let crm = try root.run(["lab", "exec", "node2", "--", "crm_mon", "--output-as=xml", "-1"])
        #expect(crm.status == 0)
        let onlineCount = crm.stdout.matches(of: #/<node name="node\d" id="\d" online="true"/#).count
        #expect(onlineCount == 3, "crm_mon: \(crm.stdout.prefix(2000))")
        #expect(crm.stdout.contains(#"with_quorum="true""#))
        // khactl status, inside a node: the same from crm_mon's XML.
        let status0 = try root.json(["lab", "exec", "node3", "--", productsDirectory.appendingPathComponent("khactl").path, "status", "--output", "json"])
        let statusNodes0 = try #require(status0["nodes"] as? [[String: Any]])
        #expect(statusNodes0.filter { $0["online"] as? Bool == true }.count == 3)
        #expect(status0["quorate"] as? Bool == true)
        let statusResources = try #require(status0["resources"] as? [[String: Any]])
        #expect(statusResources.contains { $0["id"] as? String == "vip" && $0["role"] as? String == "Started" })
        // corosync's view through khactl's own bindings, inside a node: 3 votes, quorum 2.
        let members = try root.json(["lab", "exec", "node1", "--", productsDirectory.appendingPathComponent("khactl").path, "members", "--output", "json"])
        let memberList = try #require(members["members"] as? [[String: Any]])
        let names: [String] = memberList.compactMap { $0["name"] as? String }
        #expect(names == ["node1", "node2", "node3"])
        let votes = try #require(members["votes"] as? [String: Any])
        #expect(votes["total"] as? Int == 3)
        #expect(votes["quorum"] as? Int == 2)
        let firstAddresses = memberList.first?["addresses"] as? [String]
        #expect(firstAddresses == ["198.18.0.11"])
        // lab exec passes no blocked signals on (a command must see SIGTERM).
        let mask = try root.run(["lab", "exec", "node1", "--", "grep", "SigBlk", "/proc/self/status"])
        #expect(mask.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "SigBlk:\t0000000000000000", "\(mask.stdout)")

        // Fencing for real: the fencer runs fence_redfish against node3's BMC, which powers node3 off.
        let fence = try root.run(["lab", "exec", "node1", "--", "stonith_admin", "--fence", "node3", "--timeout", "60"], timeout: 90)
        #expect(fence.status == 0, "stonith_admin: \(fence.stdout) \(fence.stderr)")
        let status = try root.json(["lab", "status", "--output", "json"])
        let statusNodes = try #require(status["nodes"] as? [[String: Any]])
        let node3 = statusNodes.first { $0["name"] as? String == "node3" }
        #expect(node3?["power"] as? String == "off")
        let history = try root.run(["lab", "exec", "node1", "--", "stonith_admin", "--history", "node3", "--output-as=xml"])
        #expect(history.stdout.contains(#"target="node3""#) && history.stdout.contains(#"status="success""#), "history: \(history.stdout)")
        let after = try root.run(["lab", "exec", "node1", "--", "crm_mon", "--output-as=xml", "-1"])
        #expect(after.stdout.contains(#"<node name="node3" id="3" online="false""#))
        let revive = try root.run(["lab", "revive", "node3"])
        #expect(revive.status == 0, "revive: \(revive.stderr)")

        // One drill round: the VIP moves, answered at the client, never on two nodes at once.
        let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", "crash", "--output", "json"])
        #expect(drill["rounds"] as? Int == 1)
        #expect(drill["dualActiveSamples"] as? Int == 0)
        let failover = try #require(drill["failover"] as? [String: Any])
        let median = try #require(failover["median"] as? Double)
        #expect(median > 0.5 && median < 10, "failover median \(median) s")

        let down = try root.run(["lab", "down"])
        #expect(down.status == 0)
        #expect(root.leftovers("lab") == [])
        try await Task.sleep(for: .milliseconds(300))
        let alive = pids.filter { kill($0, 0) == 0 && !isZombie($0) }
        #expect(alive == [], "processes still running: \(alive)")
    }

    @Test("Two labs side by side; down cleans up after a lab up that was killed half-way")
    func twoLabsAndKilledUp() async throws {
        let root = try LabRoot()
        defer {
            for name in ["alpha", "beta", "gamma"] { _ = try? root.run(["lab", "down", "--name", name]) }
            root.remove()
        }
        for name in ["alpha", "beta"] {
            let up = try root.run(["lab", "up", "--name", name, "--nodes", "2"], timeout: 180)
            #expect(up.status == 0, "lab up \(name): \(up.stderr)")
        }
        for name in ["alpha", "beta"] {
            let status = try root.json(["lab", "status", "--name", name, "--output", "json"])
            let nodes = try #require(status["nodes"] as? [[String: Any]])
            let online = nodes.filter { $0["online"] as? Bool == true }.count
            #expect(online == 2, "lab \(name): \(status)")
            #expect(status["quorate"] as? Bool == true)
        }
        // The same addresses in both labs, each in its own namespaces: both answer.
        for name in ["alpha", "beta"] {
            let ping = try root.run(["lab", "exec", "--name", name, "node1", "--", "ping", "-c1", "-W2", "198.18.0.12"])
            #expect(ping.status == 0, "lab \(name): \(ping.stdout)")
        }
        for name in ["alpha", "beta"] {
            let pids = root.recordedPIDs(name)
            #expect(try root.run(["lab", "down", "--name", name]).status == 0)
            #expect(root.leftovers(name) == [])
            try await Task.sleep(for: .milliseconds(300))
            #expect(pids.filter { kill($0, 0) == 0 && !isZombie($0) } == [])
        }

        // khactl killed in the middle of lab up: down still finds and removes what it started.
        let khactl = productsDirectory.appendingPathComponent("khactl").path
        let child = try ChildProcess.spawn(khactl, ["lab", "up", "--name", "gamma", "--nodes", "3"], environment: root.environment)
        try await Task.sleep(for: .milliseconds(1500))
        kill(child.pid, SIGKILL)
        child.terminate(grace: 1)
        let pids = root.recordedPIDs("gamma")
        #expect(!pids.isEmpty, "lab up recorded nothing before it was killed")
        #expect(try root.run(["lab", "down", "--name", "gamma"]).status == 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(pids.filter { kill($0, 0) == 0 && !isZombie($0) } == [])
        #expect(root.leftovers("gamma") == [])
    }

    @Test("watch --sink exec: runs the stock alert_file.sh.sample, which writes its usual lines")
    func alertAgent() async throws {
        let root = try LabRoot()
        defer {
            _ = try? root.run(["lab", "down", "--name", "alerts"])
            root.remove()
        }
        let agent = "/usr/share/pacemaker/alerts/alert_file.sh.sample"
        #expect(FileManager.default.isExecutableFile(atPath: agent), "fence-agents/pacemaker install \(agent)")
        let up = try root.run(["lab", "up", "--name", "alerts", "--nodes", "3"], timeout: 180)
        #expect(up.status == 0, "lab up: \(up.stderr)")
        let file = "\(root.path)/alerts.log"
        let khactl = productsDirectory.appendingPathComponent("khactl").path
        // /tmp is not private in a lab node, so the agent's file is visible here.
        let watcher = try ChildProcess.spawn(
            khactl, ["lab", "exec", "--name", "alerts", "node1", "--", khactl, "watch", "--sink", "exec:\(agent)", "--recipient", file],
            environment: root.environment)
        defer { watcher.terminate(grace: 1) }
        try await Task.sleep(for: .seconds(1))
        #expect(try root.run(["lab", "kill", "--name", "alerts", "node3", "--mode", "crash"]).status == 0)
        let lost = try await waitForLine(in: file, containing: "Node 'node3' is now 'lost'")
        #expect(lost.count == 1, "\(lost)")
        // Power node3 on only once the cluster has fenced it: a revive before that would be undone by
        // the fencer's power-off, as it must be.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let history = try root.run(["lab", "exec", "--name", "alerts", "node1", "--", "stonith_admin", "--history", "node3", "--output-as=xml"])
            if history.stdout.contains(#"status="success""#) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(try root.run(["lab", "revive", "--name", "alerts", "node3"]).status == 0)
        let member = try await waitForLine(in: file, containing: "Node 'node3' is now 'member'")
        #expect(member.count == 1, "\(member)")
        // The sample's own format: "HH:MM:SS.micro: Node 'NAME' is now 'STATE'".
        let first = try #require(lost.first)
        #expect(first.wholeMatch(of: #/\d{2}:\d{2}:\d{2}\.\d{6}: Node 'node3' is now 'lost'/#) != nil, "\(first)")
    }

    @Test("watch --leader-only on every node: each event once per cluster, also when the leader's node crashes")
    func leaderOnly() async throws {
        let root = try LabRoot()
        defer {
            _ = try? root.run(["lab", "down", "--name", "leader"])
            root.remove()
        }
        let up = try root.run(["lab", "up", "--name", "leader", "--nodes", "3"], timeout: 180)
        #expect(up.status == 0, "lab up: \(up.stderr)")
        let khactl = productsDirectory.appendingPathComponent("khactl").path
        var watchers: [ChildProcess] = []
        defer { for watcher in watchers { watcher.terminate(grace: 1) } }
        for index in 1...3 {
            watchers.append(try ChildProcess.spawn(
                khactl, ["lab", "exec", "--name", "leader", "node\(index)", "--", khactl, "watch", "--leader-only", "--output", "json"],
                log: "\(root.path)/watch\(index).log", environment: root.environment))
            try await Task.sleep(for: .milliseconds(700))
        }
        func events(_ index: Int) -> [[String: Any]] {
            let text = (try? String(contentsOfFile: "\(root.path)/watch\(index).log", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        func membershipsLeaving(_ node: Int) -> [(watcher: Int, event: [String: Any])] {
            (1...3).flatMap { index in
                events(index).filter { $0["kind"] as? String == "membership" && ($0["left"] as? [Int]) == [node] }.map { (index, $0) }
            }
        }
        // Only node1's watcher, the leader, has emitted anything so far.
        #expect(!events(1).isEmpty)
        #expect(events(2).isEmpty && events(3).isEmpty, "followers emitted: \(events(2)) \(events(3))")

        #expect(try root.run(["lab", "kill", "--name", "leader", "node3", "--mode", "crash"]).status == 0)
        let deadline = ContinuousClock.now + .seconds(20)
        while membershipsLeaving(3).isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        try await Task.sleep(for: .seconds(1))
        let third = membershipsLeaving(3)
        #expect(third.count == 1 && third.first?.watcher == 1, "node3 leaving was emitted by \(third.map(\.watcher))")

        // The leader's own node crashes: node2's watcher takes over with that very event.
        #expect(try root.run(["lab", "kill", "--name", "leader", "node1", "--mode", "crash"]).status == 0)
        let deadline2 = ContinuousClock.now + .seconds(20)
        while membershipsLeaving(1).isEmpty && ContinuousClock.now < deadline2 { try await Task.sleep(for: .milliseconds(100)) }
        try await Task.sleep(for: .seconds(1))
        let first = membershipsLeaving(1)
        #expect(first.count == 1 && first.first?.watcher == 2, "node1 leaving was emitted by \(first.map(\.watcher))")
        let quorumLost = (1...3).flatMap { index in events(index).filter { $0["kind"] as? String == "quorum" && $0["quorate"] as? Bool == false }.map { _ in index } }
        #expect(quorumLost == [2], "quorum loss emitted by \(quorumLost)")
    }

    func waitForLine(in file: String, containing text: String, timeout: Duration = .seconds(30)) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let lines = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            let matching = lines.filter { $0.contains(text) }
            if !matching.isEmpty { return matching }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("no line \"\(text)\" in \(file) within \(timeout): \((try? String(contentsOfFile: file, encoding: .utf8)) ?? "(no file)")")
    }

    @Test("Bad input: a clear error, non-zero exit, nothing created")
    func badInput() throws {
        let root = try LabRoot()
        defer { root.remove() }
        let cases: [([String], String)] = [
            (["lab", "up", "--nodes", "0"], "--nodes must be 1 to 9"),
            (["lab", "up", "--nodes", "10"], "--nodes must be 1 to 9"),
            (["lab", "up", "--name", "Bad_Name"], "invalid lab name"),
            (["lab", "up", "--token", "50"], "--token must be at least 200"),
            (["lab", "status", "--name", "nothere"], "no lab state"),
            (["lab", "kill", "node1", "--name", "nothere"], "no lab state"),
            (["lab", "kill", "node1", "--mode", "explode"], "explode"),
            (["lab", "drill", "--mode", "freeze"], "--mode must be crash, partition or isolate"),
        ]
        for (arguments, message) in cases {
            let result = try root.run(arguments)
            #expect(result.status != 0, "\(arguments) exited 0")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect((try? FileManager.default.contentsOfDirectory(atPath: root.path))?.filter { $0 != "lab" && $0 != "nothere" } == [])
        #expect(root.recordedPIDs("lab") == [])
    }
}

func isZombie(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
        return true
    }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
}
