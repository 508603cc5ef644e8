import Foundation
import Testing
import TestSupport

/// `khactl node add|remove|replace` on a lab of three bare controllers: a pair bootstrapped with the Kubernetes
/// profile grows to three while the lab client probes the VIP, loses a dead node, and gets a rebuilt node back.
/// Real corosync (reloads through the coordinated barrier), pacemaker, fence_redfish and the lab BMCs.
@Suite("cluster membership in the lab", .serialized)
struct MembershipLabTests {
    struct Membership {
        let root: LabTests.LabRoot
        let lab: DayTwoLabTests.Lab
        var khactl: String { lab.khactl }
        var authkey: String { "\(root.path)/lab/authkey" }

        /// The lab's spec for the first `nodes` nodes, in a file.
        func spec(nodes: Int) throws -> String {
            let result = try root.run(["lab", "spec", "--nodes", String(nodes)])
            try #require(result.status == 0, "lab spec: \(result.stderr)")
            let path = "\(root.path)/spec\(nodes).yaml"
            try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// `khactl node ARGS` inside `node`.
        func node(_ node: Int, _ arguments: [String]) throws -> CommandResult {
            try root.run(["lab", "exec", "node\(node)", "--", khactl, "node"] + arguments, timeout: 300)
        }

        /// A script that runs `khactl COMMAND ARGS` (`node` by default) in several nodes at once and fails when one
        /// of them fails.
        func concurrently(_ runs: [(node: Int, arguments: [String])], command: String = "node") throws -> String {
            var lines = ["#!/bin/bash", "export KHACTL_LAB_ROOT=\(root.path)", "pids=()"]
            for (node, arguments) in runs {
                lines.append(
                    "\(khactl) lab exec node\(node) -- \(khactl) \(command) \(arguments.joined(separator: " ")) >\(root.path)/node\(node).out 2>&1 & pids+=($!)")
            }
            lines += ["status=0", "for pid in \"${pids[@]}\"; do wait \"$pid\" || status=1; done", "exit $status"]
            let path = "\(root.path)/concurrently-\(UUID().uuidString.prefix(6)).sh"
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return path
        }

        func output(_ node: Int) -> String { (try? String(contentsOfFile: "\(root.path)/node\(node).out", encoding: .utf8)) ?? "" }

        /// The script under `lab measure`: its status and the client's report.
        func measured(_ script: String) throws -> (Int32, [String: Any]) {
            let result = try root.run(["lab", "measure", "--output", "json", "--url", DayTwoLabTests.healthz, "--", script], timeout: 400)
            let last = try #require(result.stdoutLines.last, "no report: \(result.stderr)")
            print("measured \(script): \(last)")
            return (result.status, try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]))
        }

        func file(_ node: Int, _ path: String) throws -> String { try lab.tool("node\(node)", ["cat", path]).stdout }
        func corosyncConf(_ node: Int) throws -> String { try file(node, "/etc/corosync/corosync.conf") }
        func cib() throws -> String { try lab.tool("node1", ["cibadmin", "--query"]).stdout }

        /// Successful fencing actions against `node` in node1's fencing history.
        func fencings(_ node: String) throws -> Int {
            let history = try lab.tool("node1", ["stonith_admin", "--history", node, "--output-as=xml"]).stdout
            return history.matches(of: #/<fence_event [^>]*status="success"/#).count
        }

        func quorumtool(_ node: Int) throws -> String { try lab.tool("node\(node)", ["corosync-quorumtool", "-s"]).stdout }

        func resourcesStarted(_ expectedNodes: Int) throws -> Bool {
            let status = try lab.status()
            let nodes = status["nodes"] as? [[String: Any]] ?? []
            guard nodes.count == expectedNodes, nodes.allSatisfy({ $0["online"] as? Bool == true }) else { return false }
            let resources = status["resources"] as? [[String: Any]] ?? []
            return !resources.isEmpty && resources.allSatisfy { $0["role"] as? String == "Started" }
        }

        /// The nodes the instances of a clone's primitive `id` (`haproxy`, `haproxy:0`, ...) run on.
        func cloneNodes(_ id: String) throws -> [String] {
            let resources = try lab.status()["resources"] as? [[String: Any]] ?? []
            return resources.filter { ($0["id"] as? String)?.split(separator: ":").first.map(String.init) == id }
                .flatMap { $0["nodes"] as? [String] ?? [] }.sorted()
        }

        /// Two drill rounds of each mode on a pair: each node is the victim once (the VIP stays where it went), no
        /// dual-active sample, and only the new holder is still powered on afterwards.
        func pairDrills(_ modes: [String]) throws {
            for mode in modes {
                let drill = try self.drill(mode, rounds: 2)
                #expect(drill["dualActiveSamples"] as? Int == 0, "\(drill)")
                let rounds = drill["details"] as? [[String: Any]] ?? []
                #expect(Set(rounds.compactMap { $0["victim"] as? String }) == ["node1", "node2"], "\(mode): \(rounds)")
                for round in rounds {
                    #expect(round["poweredOn"] as? [String] == [round["newHolder"] as? String ?? "?"], "\(mode): \(round)")
                }
                try lab.waitFor("the pair settled after the drill") { try resourcesStarted(2) }
            }
        }

        func drill(_ mode: String, rounds: Int = 1) throws -> [String: Any] {
            let result = try root.run(["lab", "drill", "--mode", mode, "--rounds", String(rounds), "--output", "json"], timeout: 400)
            try #require(result.status == 0, "drill: \(result.stdout) \(result.stderr)")
            print("drill \(mode): \(result.stdoutLines.last ?? "")")
            return try #require(try JSONSerialization.jsonObject(with: Data((result.stdoutLines.last ?? "").utf8)) as? [String: Any])
        }
    }

    @Test("a pair grows to three under load, a dead node is removed, a rebuilt node rejoins; bad input changes nothing")
    func membership() throws {
        try BootstrapLabTests.withBareLab(3) { root in
            let m = Membership(root: root, lab: DayTwoLabTests.Lab(root: root))
            let boot = try root.run(["lab", "bootstrap", "--profile", "kubernetes-control-plane", "--nodes", "2"], timeout: 300)
            try #require(boot.status == 0, "lab bootstrap: \(boot.stdout.suffix(2000)) \(boot.stderr)")
            try m.lab.waitFor("the pair's resources started") { try m.resourcesStarted(2) }
            let spec2 = try m.spec(nodes: 2), spec3 = try m.spec(nodes: 3)
            let pairConf = try m.corosyncConf(1)
            #expect(pairConf.contains("two_node: 1"))
            #expect(try m.cib().contains(#"id="pair-arbiter""#))

            try badInput(m, spec2: spec2, spec3: spec3, pairConf: pairConf)

            // Pair -> three: node add on all three nodes at once, the lab client probing the VIP.
            let reloadsBefore = try m.file(1, "/var/log/corosync/corosync.log").components(separatedBy: "Config reload requested").count - 1
            let add = try m.concurrently([
                (1, ["add", "node3", "-f", spec3]), (2, ["add", "node3", "-f", spec3]),
                (3, ["add", "node3", "-f", spec3, "--authkey", m.authkey]),
            ])
            let (status, report) = try m.measured(add)
            #expect(status == 0, "node add: \(m.output(1))\n\(m.output(2))\n\(m.output(3))")
            #expect(report["dualActiveSamples"] as? Int == 0, "\(report)")
            #expect(m.output(1).contains("node add node3: done here (a node of the cluster)"), "\(m.output(1))")
            #expect(m.output(3).contains("node add node3: done here (the new node)"), "\(m.output(3))")
            // One reload, from the member with the lowest node id, once both members held the file.
            let log = try m.file(1, "/var/log/corosync/corosync.log")
            #expect(log.components(separatedBy: "Config reload requested").count - 1 == reloadsBefore + 1, "reloads: \(log.suffix(3000))")
            #expect(m.output(1).contains("reloading corosync on all of them (corosync-cfgtool -R)"))
            #expect(!m.output(2).contains("reloading corosync on all of them"))
            let conf3 = try m.corosyncConf(1)
            #expect(try m.corosyncConf(2) == conf3)
            #expect(try m.corosyncConf(3) == conf3)
            #expect(!conf3.contains("two_node"))
            try m.lab.waitFor("every resource started on three nodes") { try m.resourcesStarted(3) }
            let quorum = try m.quorumtool(1)
            #expect(quorum.firstMatch(of: #/Expected votes:\s+3/#) != nil, "\(quorum)")
            #expect(!quorum.contains("2Node"), "\(quorum)")
            let cib3 = try m.cib()
            #expect(cib3.contains(#"id="fence-node3""#))
            #expect(!cib3.contains("pair-arbiter") && !cib3.contains("priority-fencing-delay"), "the pair's arbiter is left")
            #expect(try m.cloneNodes("haproxy") == ["node1", "node2", "node3"])
            #expect(try m.lab.inNode(["plan", "-f", spec3]).status == 0)
            #expect(try m.drill("crash")["dualActiveSamples"] as? Int == 0)
            try m.lab.waitFor("the three nodes settled after the drill") { try m.resourcesStarted(3) }

            // Remove a dead node3: crash it (the others fence it), then node remove on the two that stay.
            #expect(try root.run(["lab", "kill", "node3", "--mode", "crash"]).status == 0)
            try m.lab.waitFor("node3 offline") { (try m.lab.node("node3")["online"] as? Bool) == false }
            let remove = try m.concurrently([(1, ["remove", "node3", "-f", spec2]), (2, ["remove", "node3", "-f", spec2])])
            let (removeStatus, removeReport) = try m.measured(remove)
            #expect(removeStatus == 0, "node remove: \(m.output(1))\n\(m.output(2))")
            #expect(removeReport["dualActiveSamples"] as? Int == 0, "\(removeReport)")
            #expect(try m.corosyncConf(1) == pairConf)
            #expect(try m.corosyncConf(2) == pairConf)
            try m.lab.waitFor("the CIB without node3") { try !m.cib().contains("node3") }
            let known = try m.lab.tool("node1", ["crm_node", "--list"]).stdout
            #expect(!known.contains("node3"), "\(known)")
            let monitor = try m.lab.tool("node1", ["crm_mon", "--output-as=xml", "-1"]).stdout
            #expect(!monitor.contains(#"name="node3""#), "\(monitor)")
            let cib2 = try m.cib()
            #expect(!cib2.contains("node3"), "the CIB still names node3")
            #expect(cib2.contains(#"id="pair-arbiter""#) && cib2.contains(#"name="priority-fencing-delay""#))
            let pairQuorum = try m.quorumtool(1)
            #expect(pairQuorum.contains("2Node"), "\(pairQuorum)")
            try m.lab.waitFor("the pair's resources started") { try m.resourcesStarted(2) }
            // The pair fails over whichever node holds the VIP (two rounds each: the VIP stays where it went, so
            // the second round's victim is the first round's survivor), and a split leaves exactly one node on.
            try m.pairDrills(["crash", "isolate", "partition"])

            // Replace node2: it dies, comes back with an empty disk, and rejoins; node1's corosync.conf stays.
            let fenced = try m.fencings("node2")
            #expect(try root.run(["lab", "kill", "node2", "--mode", "crash"]).status == 0)
            // Powered on again only once node1 has fenced it (else the fence would power the new disk off).
            try m.lab.waitFor("node2 fenced") { try m.fencings("node2") == fenced + 1 }
            #expect(try root.run(["lab", "revive", "node2", "--wipe"]).status == 0)
            #expect(try m.lab.tool("node2", ["test", "-e", "/etc/corosync/corosync.conf"]).status == 1, "the rebuilt node has a corosync.conf")
            let replace = try m.node(2, ["replace", "node2", "-f", spec2, "--authkey", m.authkey])
            #expect(replace.status == 0, "node replace: \(replace.stdout) \(replace.stderr)")
            #expect(try m.corosyncConf(1) == pairConf)
            try m.lab.waitFor("every resource started on both nodes again") { try m.resourcesStarted(2) }
            #expect(try m.cloneNodes("haproxy") == ["node1", "node2"])
            #expect(try m.cloneNodes("kube-apiserver") == ["node1", "node2"])
        }
    }

    @Test("a quorum device added to a running pair under load; then a split or crash of either VIP holder leaves the other with quorum and the VIP; the witness's death stops nothing")
    func quorumDevice() throws {
        let root = try LabTests.LabRoot()
        defer {
            _ = try? root.run(["lab", "down"])
            root.remove()
        }
        let up = try root.run(["lab", "up", "--bare", "--nodes", "2", "--witness"])
        try #require(up.status == 0, "lab up --bare --witness: \(up.stderr)")
        let m = Membership(root: root, lab: DayTwoLabTests.Lab(root: root))
        let boot = try root.run(["lab", "bootstrap", "--profile", "kubernetes-control-plane"], timeout: 300)
        try #require(boot.status == 0, "lab bootstrap: \(boot.stdout.suffix(2000)) \(boot.stderr)")
        try m.lab.waitFor("the pair's resources started") { try m.resourcesStarted(2) }
        let pairConf = try m.corosyncConf(1)

        // The witness: corosync-qnetd and the cluster's certificates.
        let certificates = "\(root.path)/qdevice"
        let witness = try root.run(["lab", "exec", "witness", "--", m.khactl, "witness", "init", "--cluster", "lab", "--out", certificates])
        #expect(witness.status == 0, "witness init: \(witness.stdout) \(witness.stderr)")
        #expect(try m.lab.tool("witness", ["pgrep", "-x", "corosync-qnetd"]).status == 0)
        let spec = "\(root.path)/qdevice.yaml"
        try (try root.run(["lab", "spec", "--quorum-device"])).stdout.write(toFile: spec, atomically: true, encoding: .utf8)
        // Without the certificates, a node refuses before anything is written.
        let refused = try root.run(["lab", "exec", "node1", "--", m.khactl, "bootstrap", "-f", spec, "--reload"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the spec has a quorum device: pass --qdevice-certificates DIR"), "\(refused.stderr)")
        #expect(try m.corosyncConf(1) == pairConf)

        // The device joins the running pair: bootstrap --reload on both nodes at once, the client probing the VIP.
        let arguments = ["-f", spec, "--reload", "--qdevice-certificates", certificates]
        let script = try m.concurrently([(1, arguments), (2, arguments)], command: "bootstrap")
        let (status, report) = try m.measured(script)
        #expect(status == 0, "bootstrap --reload: \(m.output(1))\n\(m.output(2))")
        #expect(report["dualActiveSamples"] as? Int == 0, "\(report)")
        #expect(report["pingsLost"] as? Int == 0, "\(report)")
        try m.lab.waitFor("the pair's resources started") { try m.resourcesStarted(2) }
        let conf = try m.corosyncConf(1)
        #expect(conf.contains("model: net") && !conf.contains("two_node"))
        #expect(try m.corosyncConf(2) == conf)
        try m.lab.waitFor("the device's vote") { try m.quorumtool(1).contains("Flags:            Quorate Qdevice") }
        let quorum = try m.quorumtool(1)
        #expect(quorum.firstMatch(of: #/Expected votes:\s+3/#) != nil, "\(quorum)")
        // Each node as the VIP's holder: isolated, it loses quorum and is fenced; the other keeps quorum through
        // the witness's vote and takes the VIP.
        try m.pairDrills(["isolate", "crash"])
        // The witness dies: two votes of three remain, nothing stops.
        #expect(try m.lab.tool("witness", ["pkill", "-9", "-x", "corosync-qnetd"]).status == 0)
        try m.lab.waitFor("the qdevices to see the witness gone") {
            try !m.lab.tool("node1", ["corosync-qdevice-tool", "-s"]).stdout.contains("State:\t\t\tConnected")
        }
        let without = try m.quorumtool(1)
        #expect(without.contains("Quorate:          Yes"), "\(without)")
        #expect(try m.resourcesStarted(2))
        #expect(try root.run(["lab", "exec", "client", "--", "curl", "-sk", "--max-time", "5", DayTwoLabTests.healthz]).stdout == "ok")
    }

    /// Each refused with one line and exit 1, and node1's corosync.conf and CIB unchanged.
    func badInput(_ m: Membership, spec2: String, spec3: String, pairConf: String) throws {
        let epoch = try m.lab.epoch()
        // A spec with node3 under another address that node2 uses.
        let clash = "\(m.root.path)/clash.yaml"
        try (try String(contentsOfFile: spec3, encoding: .utf8)).replacingOccurrences(of: "addresses: [198.18.0.13]", with: "addresses: [198.18.0.12]")
            .write(toFile: clash, atomically: true, encoding: .utf8)
        // A spec that also renames the cluster's second node.
        let renamed = "\(m.root.path)/renamed.yaml"
        try (try String(contentsOfFile: spec3, encoding: .utf8)).replacingOccurrences(of: "name: node2,", with: "name: node9,")
            .write(toFile: renamed, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["add", "node2", "-f", spec3], "node add: node2 is already in the cluster (node1, node2)"),
            (["add", "node3", "-f", spec2], "node add: node3 is not in the spec's cluster (node1, node2): add it to the spec first"),
            (["add", "node4", "-f", spec3], "node add: node4 is not in the spec's cluster (node1, node2, node3): add it to the spec first"),
            (["add", "node3", "-f", renamed], "node add: the spec differs from the running cluster by more than adding node3; only in the spec: node9; only in the cluster: node2"),
            (["remove", "node2", "-f", spec2], "node remove: node2 is still in the spec's cluster: take it out of the spec first (the spec is what the cluster becomes)"),
            (["remove", "node3", "-f", spec3], "node remove: node3 is still in the spec's cluster: take it out of the spec first (the spec is what the cluster becomes)"),
        ]
        for (arguments, message) in cases {
            let result = try m.node(1, arguments)
            #expect(result.status == 1, "\(arguments) exited \(result.status)")
            #expect(result.stderr.split(separator: "\n").first.map(String.init) == "Error: \(message)", "\(arguments): \(result.stderr)")
        }
        let clashed = try m.node(1, ["add", "node3", "-f", clash])
        #expect(clashed.status == 1)
        #expect(clashed.stderr.contains("198.18.0.12"), "\(clashed.stderr)")
        // A pair cannot lose a node: the spec would have one.
        let single = "\(m.root.path)/single.yaml"
        let one = try m.root.run(["lab", "spec", "--nodes", "1"])
        try one.stdout.write(toFile: single, atomically: true, encoding: .utf8)
        let lone = try m.node(1, ["remove", "node2", "-f", single])
        #expect(lone.status == 1)
        #expect(lone.stderr.hasPrefix("Error: node remove: removing node2 would leave 1 node; a cluster needs at least two"), "\(lone.stderr)")
        #expect(try m.corosyncConf(1) == pairConf)
        #expect(try m.corosyncConf(2) == pairConf)
        #expect(try m.lab.epoch() == epoch)
    }
}
