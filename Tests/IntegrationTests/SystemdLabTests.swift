import Foundation
import Testing
import TestSupport

/// Lab nodes that boot systemd (`lab up --bare --systemd`): bootstrap's systemctl routes, the distribution's
/// units, a fenced node booting back into the cluster on its own, and khactl-watch.service as README installs it.
@Suite("systemd lab nodes", .serialized)
struct SystemdLabTests {
    /// Runs `body` with a bare lab of `nodes` nodes that boot systemd, taken down afterwards.
    static func withSystemdLab(_ nodes: Int, _ body: (LabTests.LabRoot) async throws -> Void) async throws {
        let root = try LabTests.LabRoot()
        defer {
            _ = try? root.run(["lab", "down"])
            root.remove()
        }
        let up = try root.run(["lab", "up", "--bare", "--systemd", "--nodes", String(nodes)])
        try #require(up.status == 0, "lab up --bare --systemd: \(up.stdout) \(up.stderr)")
        try await body(root)
    }

    /// `command` inside node `node`; its standard output.
    @discardableResult
    static func exec(_ root: LabTests.LabRoot, _ node: Int, _ command: [String], timeout: TimeInterval = 120) throws -> String {
        let result = try root.run(["lab", "exec", "node\(node)", "--"] + command, timeout: timeout)
        guard result.status == 0 else {
            throw TestSetupError("node\(node): \(command.joined(separator: " ")) exited \(result.status): \(result.stdout) \(result.stderr)")
        }
        return result.stdout
    }

    /// `systemctl show -p` of `properties` for `unit` in node `node`, as a dictionary.
    static func show(_ root: LabTests.LabRoot, _ node: Int, _ unit: String, _ properties: [String]) throws -> [String: String] {
        let text = try exec(root, node, ["systemctl", "show", unit] + properties.flatMap { ["-p", $0] })
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    /// Waits until every unit of `units` is active in node `node`.
    static func waitActive(_ root: LabTests.LabRoot, _ node: Int, _ units: [String], timeout: TimeInterval = 90) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [String] = []
        while Date() < deadline {
            last = units.map { (try? show(root, node, $0, ["ActiveState"])["ActiveState"]) ?? "?" }
            if last.allSatisfy({ $0 == "active" }) { return }
            usleep(250_000)
        }
        throw TestSetupError("node\(node): \(units) not all active within \(timeout) s: \(last)")
    }

    /// The boot ids node `node`'s journal holds, oldest first.
    static func boots(_ root: LabTests.LabRoot, _ node: Int) throws -> [String] {
        // Lines "IDX BOOT-ID FIRST LAST" under a header (journalctl 252 has no --no-legend here).
        try exec(root, node, ["journalctl", "--list-boots", "--no-pager"]).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 1, Int(fields[0]) != nil else { return nil }
            return String(fields[1])
        }
    }

    /// Lines of the current boot's journal for `unit` that systemd itself wrote (PID 1, `systemd[1]:`).
    static func systemdLines(_ root: LabTests.LabRoot, _ node: Int, _ unit: String) throws -> [String] {
        try exec(root, node, ["journalctl", "-b", "0", "--no-pager", "-o", "cat", "_PID=1", "UNIT=\(unit)"]).split(separator: "\n").map(String.init)
    }

    /// The unit states bootstrap leaves behind: corosync and pacemaker active and enabled, started by systemd in this
    /// boot; haproxy and the stand-in API server running as units that pacemaker started (not enabled for boot).
    static func checkUnits(_ root: LabTests.LabRoot, nodes: Int) throws {
        for node in 1...nodes {
            for unit in ["corosync.service", "pacemaker.service"] {
                let values = try show(root, node, unit, ["ActiveState", "UnitFileState"])
                #expect(values == ["ActiveState": "active", "UnitFileState": "enabled"], "node\(node) \(unit): \(values)")
            }
            let corosync = try systemdLines(root, node, "corosync.service")
            #expect(corosync.contains("Started corosync.service - Corosync Cluster Engine."), "node\(node): \(corosync)")
            let pacemaker = try systemdLines(root, node, "pacemaker.service")
            #expect(pacemaker.contains("Started pacemaker.service - Pacemaker High Availability Cluster Manager."), "node\(node): \(pacemaker)")
            try waitActive(root, node, ["haproxy.service", "khactl-apiserver-standin.service"])
            #expect(try show(root, node, "haproxy.service", ["UnitFileState"]) == ["UnitFileState": "disabled"])
        }
        // Pacemaker manages them through its systemd class.
        let cib = try exec(root, 1, ["cibadmin", "--query", "--scope", "resources"])
        #expect(cib.contains(#"<primitive id="haproxy" class="systemd" type="haproxy""#), "\(cib)")
        #expect(cib.contains(#"class="systemd" type="khactl-apiserver-standin""#), "\(cib)")
    }

    /// The lab switch's network namespace, where the lab client (198.18.0.2) lives.
    static func switchNamespace(_ root: LabTests.LabRoot) throws -> String {
        let state = try String(contentsOfFile: "\(root.path)/lab/lab.json", encoding: .utf8)
        let holder = try #require(state.firstMatch(of: #/"switchHolder"\s*:\s*\{[^}]*"pid"\s*:\s*(\d+)/#)?.output.1)
        return "/proc/\(holder)/ns/net"
    }

    @Test("3 systemd nodes, direct route: systemctl starts and enables the cluster, drills in 3 modes, a fenced node boots back on its own")
    func directRoute() async throws {
        try await Self.withSystemdLab(3) { root in
            try BootstrapLabTests.check(root, nodes: 3)
            try Self.checkUnits(root, nodes: 3)
            for mode in ["crash", "partition", "isolate"] {
                let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", mode, "--output", "json"])
                #expect(drill["dualActiveSamples"] as? Int == 0, "\(mode): \(drill)")
                let rounds = drill["details"] as? [[String: Any]] ?? []
                #expect(rounds.count == 1 && rounds.allSatisfy { $0["newHolder"] as? String != $0["victim"] as? String }, "\(mode): \(drill)")
            }
            // node3 fenced by the cluster (stonith-action off: its BMC powers it off), then powered on again: a new
            // boot, whose systemd starts the cluster's units (lab revive boots the node and calls nothing else).
            let before = try Self.boots(root, 3)
            let fence = try root.run(["lab", "exec", "node1", "--", "stonith_admin", "--fence", "node3", "--timeout", "60"], timeout: 90)
            #expect(fence.status == 0, "stonith_admin: \(fence.stdout) \(fence.stderr)")
            let off = try root.json(["lab", "status", "--output", "json"])
            let node3 = (off["nodes"] as? [[String: Any]])?.first { $0["name"] as? String == "node3" }
            #expect(node3?["power"] as? String == "off", "\(off)")
            let revive = try root.run(["lab", "revive", "node3"])
            #expect(revive.status == 0, "\(revive.stderr)")
            try Self.waitActive(root, 3, ["corosync.service", "pacemaker.service"])
            let after = try Self.boots(root, 3)
            #expect(after.count == before.count + 1 && Array(after.dropLast()) == before, "boots before \(before), after \(after)")
            #expect(try Self.systemdLines(root, 3, "corosync.service").contains("Started corosync.service - Corosync Cluster Engine."))
            let online = try root.json(["lab", "status", "--output", "json"])
            let nodes = online["nodes"] as? [[String: Any]] ?? []
            let deadline = Date().addingTimeInterval(60)
            var allOnline = nodes.count == 3 && nodes.allSatisfy { $0["online"] as? Bool == true }
            while !allOnline && Date() < deadline {
                usleep(500_000)
                let status = (try? root.json(["lab", "status", "--output", "json"])) ?? [:]
                let list = status["nodes"] as? [[String: Any]] ?? []
                allOnline = list.count == 3 && list.allSatisfy { $0["online"] as? Bool == true }
            }
            #expect(allOnline, "node3 did not rejoin after booting")
        }
    }

    @Test("3 systemd nodes, pcsd route: systemctl enable --now pcsd, pcs cluster setup --enable --start through pcsd, a crash drill")
    func pcsdRoute() async throws {
        try await Self.withSystemdLab(3) { root in
            try BootstrapLabTests.check(root, nodes: 3, via: "pcsd")
            try Self.checkUnits(root, nodes: 3)
            for node in 1...3 {
                let values = try Self.show(root, node, "pcsd.service", ["ActiveState", "UnitFileState"])
                #expect(values == ["ActiveState": "active", "UnitFileState": "enabled"], "node\(node) pcsd: \(values)")
            }
            let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", "crash", "--output", "json"])
            #expect(drill["dualActiveSamples"] as? Int == 0, "\(drill)")
        }
    }

    @Test("a systemd pair with a quorum device: witness init enables corosync-qnetd, bootstrap corosync-qdevice, by systemctl; a crash drill")
    func quorumDevice() async throws {
        let root = try LabTests.LabRoot()
        defer {
            _ = try? root.run(["lab", "down"])
            root.remove()
        }
        let up = try root.run(["lab", "up", "--bare", "--systemd", "--nodes", "2", "--witness"])
        try #require(up.status == 0, "lab up --bare --systemd --witness: \(up.stdout) \(up.stderr)")
        let bootstrap = try root.run(["lab", "bootstrap", "--profile", "kubernetes-control-plane", "--quorum-device"], timeout: 300)
        try #require(bootstrap.status == 0, "\(bootstrap.stdout.suffix(2000)) \(bootstrap.stderr)")
        let witness = try root.run(["lab", "exec", "witness", "--", "systemctl", "show", "corosync-qnetd", "-p", "ActiveState", "-p", "UnitFileState"])
        #expect(witness.stdout == "ActiveState=active\nUnitFileState=enabled\n", "\(witness.stdout) \(witness.stderr)")
        for node in 1...2 {
            let values = try Self.show(root, node, "corosync-qdevice.service", ["ActiveState", "UnitFileState"])
            #expect(values == ["ActiveState": "active", "UnitFileState": "enabled"], "node\(node): \(values)")
        }
        let quorum = try Self.exec(root, 1, ["corosync-quorumtool", "-s"])
        #expect(quorum.contains("Flags:            Quorate Qdevice"), "\(quorum)")
        let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", "crash", "--output", "json"])
        #expect(drill["dualActiveSamples"] as? Int == 0, "\(drill)")
    }

    @Test("khactl-watch.service on every systemd node as README installs it: a crash reaches the receiver once, a corosync restart is reported, stop flushes and exits 0")
    func watchService() async throws {
        try await Self.withSystemdLab(3) { root in
            let bootstrap = try root.run(["lab", "bootstrap", "--profile", "kubernetes-control-plane"], timeout: 300)
            try #require(bootstrap.status == 0, "\(bootstrap.stdout.suffix(2000)) \(bootstrap.stderr)")
            let receiver = try WebhookReceiver(networkNamespace: try Self.switchNamespace(root), address: "198.18.0.2")
            defer { receiver.stop() }
            // The unit as shipped, with the receiver's URL changed in ExecStart (README's one edit).
            let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Scripts/systemd/khactl-watch.service")
            let unit = try String(contentsOf: shipped, encoding: .utf8)
            let url = "\(receiver.url)/khactl-events"
            #expect(unit.contains("--sink webhook:http://127.0.0.1:9000/khactl-events"))
            let edited = unit.replacingOccurrences(of: "http://127.0.0.1:9000/khactl-events", with: url)
            let token = "lab-token-\(UUID().uuidString.prefix(8))"
            let khactl = productsDirectory.appendingPathComponent("khactl").path
            for node in 1...3 {
                // The files an operator copies to the controller, then README's commands.
                let disk = "\(root.path)/lab/node\(node)/root"
                #expect(FileManager.default.createFile(atPath: "\(disk)/khactl-watch.service", contents: Data(edited.utf8), attributes: [.posixPermissions: 0o644]))
                #expect(FileManager.default.createFile(atPath: "\(disk)/token", contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]))
                try Self.exec(root, node, ["install", "-m", "0755", khactl, "/usr/local/sbin/khactl"])
                try Self.exec(root, node, ["install", "-d", "-m", "0700", "/etc/khactl"])
                try Self.exec(root, node, ["sh", "-c", "install -m 0600 /dev/stdin /etc/khactl/webhook-token < /root/token && rm /root/token"])
                try Self.exec(root, node, ["install", "-m", "0644", "/root/khactl-watch.service", "/etc/systemd/system/"])
                try Self.exec(root, node, ["sh", "-c", "systemctl daemon-reload && systemctl enable --now khactl-watch"])
            }
            for node in 1...3 {
                let values = try Self.show(root, node, "khactl-watch.service", ["ActiveState", "UnitFileState"])
                #expect(values == ["ActiveState": "active", "UnitFileState": "enabled"], "node\(node): \(values)")
            }
            func events(_ requests: [WebhookReceiver.Request]) -> [[String: Any]] { requests.compactMap(\.json) }
            // The three watchers found each other: one of them (the leader) reports the group of three.
            try await receiver.wait(for: "the watchers' group of three", timeout: .seconds(60)) { requests in
                events(requests).contains { $0["kind"] as? String == "cpg" && ($0["members"] as? [Any])?.count == 3 }
            }
            #expect(receiver.requests.allSatisfy { $0.headers["authorization"] == "Bearer \(token)" })
            let leader = try #require(events(receiver.requests).last?["node"] as? Int)
            // A crash of node3 (the leader is node1 or node2: the lowest member leads).
            #expect(leader != 3)
            let start = receiver.requests.count
            let kill = try root.run(["lab", "kill", "--mode", "crash", "node3"])
            #expect(kill.status == 0, "\(kill.stderr)")
            func lostNode3(_ event: [String: Any]) -> Bool {
                event["kind"] as? String == "membership" && (event["left"] as? [Int]) == [3]
            }
            try await receiver.wait(for: "node3 leaving the membership", timeout: .seconds(30)) { events(Array($0.dropFirst(start))).contains(where: lostNode3) }
            // Every watcher has seen it by now; a few seconds more for any second report.
            try await Task.sleep(for: .seconds(5))
            let afterCrash = events(Array(receiver.requests.dropFirst(start)))
            #expect(afterCrash.filter(lostNode3).count == 1, "\(afterCrash)")
            #expect(afterCrash.allSatisfy { $0["node"] as? Int == leader }, "\(afterCrash)")
            let revive = try root.run(["lab", "revive", "node3"])
            #expect(revive.status == 0, "\(revive.stderr)")
            try Self.waitActive(root, 3, ["corosync.service", "pacemaker.service", "khactl-watch.service"])
            try await receiver.wait(for: "node3's watcher back in the group", timeout: .seconds(60)) { requests in
                events(requests).contains { event in
                    event["kind"] as? String == "cpg" && (event["joined"] as? [[String: Any]])?.contains { $0["nodeID"] as? Int == 3 } == true
                }
            }

            // systemctl restart corosync under the leading watcher: reported, and the unit neither fails nor restarts.
            let mainPID = try Self.show(root, leader, "khactl-watch.service", ["MainPID"])["MainPID"]
            let beforeRestart = receiver.requests.count
            try Self.exec(root, leader, ["systemctl", "restart", "corosync"])
            func connection(_ state: String) -> ([WebhookReceiver.Request]) -> Bool {
                { requests in
                    events(Array(requests.dropFirst(beforeRestart))).contains {
                        $0["kind"] as? String == "connection" && $0["state"] as? String == state && $0["node"] as? Int == leader
                    }
                }
            }
            try await receiver.wait(for: "disconnected", timeout: .seconds(30), until: connection("disconnected"))
            try await receiver.wait(for: "reconnected", timeout: .seconds(60), until: connection("reconnected"))
            let restarted = try Self.show(root, leader, "khactl-watch.service", ["ActiveState", "NRestarts", "MainPID"])
            #expect(restarted == ["ActiveState": "active", "NRestarts": "0", "MainPID": mainPID ?? "?"], "\(restarted)")

            // systemctl stop: the queue flushed (its summary line), exit 0.
            try Self.exec(root, 1, ["systemctl", "stop", "khactl-watch"])
            let stopped = try Self.show(root, 1, "khactl-watch.service", ["ActiveState", "Result", "ExecMainStatus"])
            #expect(stopped == ["ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"], "\(stopped)")
            let journal = try Self.exec(root, 1, ["journalctl", "-b", "0", "--no-pager", "-o", "cat", "-u", "khactl-watch"])
            let summary = journal.split(separator: "\n").filter { $0.hasPrefix("khactl watch: sink webhook:\(url): ") }
            #expect(summary.count == 1 && summary.allSatisfy { $0.contains(" failed=0 dropped=0 ") }, "\(journal.suffix(1500))")
        }
    }
}
