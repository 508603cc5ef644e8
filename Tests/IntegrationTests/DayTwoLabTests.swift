import Foundation
import Testing
import TestSupport

/// Day-2 operations on a 3-node lab bootstrapped with the Kubernetes profile: real corosync, pacemaker, haproxy,
/// fence_redfish. Every change that can move the VIP runs under `khactl lab measure`, which probes the endpoint
/// from the lab client (ping every 20 ms, HTTPS /healthz every 50 ms) and samples every node for the VIP.
@Suite("day-2 operations in the lab", .serialized)
struct DayTwoLabTests {
    static let healthz = "https://198.18.0.100:7443/healthz"

    struct Lab {
        let root: LabTests.LabRoot
        let khactl = productsDirectory.appendingPathComponent("khactl").path

        /// khactl run inside node1.
        func inNode(_ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
            try root.run(["lab", "exec", "node1", "--", khactl] + arguments, timeout: timeout)
        }

        /// A tool run inside a node.
        func tool(_ node: String, _ argv: [String]) throws -> CommandResult {
            try root.run(["lab", "exec", node, "--"] + argv)
        }

        // The probes below throw a plain error instead of `#require`: `#require` records an issue even under
        // `try?`, and `waitFor` polls them while a node is still booting (a failed poll is not a failure).

        func status() throws -> [String: Any] {
            let result = try inNode(["status", "--output", "json"])
            guard result.status == 0 else { throw TestSetupError("khactl status in node1: \(result.stderr)") }
            return try present(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "status JSON: \(result.stdout)")
        }

        func holder() throws -> String {
            let resources = try present(try status()["resources"] as? [[String: Any]], "status without resources")
            let vip = try present(resources.first { $0["id"] as? String == "vip" }, "no resource vip in \(resources)")
            return try present((vip["nodes"] as? [String])?.first, "the VIP runs nowhere: \(vip)")
        }

        func node(_ name: String) throws -> [String: Any] {
            let nodes = try present(try status()["nodes"] as? [[String: Any]], "status without nodes")
            return try present(nodes.first { $0["name"] as? String == name }, "no node \(name) in \(nodes)")
        }

        func present<T>(_ value: T?, _ message: @autoclosure () -> String) throws -> T {
            guard let value else { throw TestSetupError(message()) }
            return value
        }

        func epoch() throws -> Int {
            let cib = try tool("node1", ["cibadmin", "--query"])
            return Int(try #require(cib.stdout.firstMatch(of: #/<cib [^>]*\bepoch="(\d+)"/#)?.output.1)) ?? -1
        }

        func constraintsAndProperties() throws -> String {
            try tool("node1", ["cibadmin", "--query", "--scope", "constraints"]).stdout
                + tool("node1", ["cibadmin", "--query", "--scope", "crm_config"]).stdout
        }

        /// `khactl ARGS` on the host under `lab measure`: the command's result and the client's report.
        func measured(_ arguments: [String], timeout: TimeInterval = 300) throws -> (CommandResult, [String: Any]) {
            let result = try root.run(
                ["lab", "measure", "--output", "json", "--url", DayTwoLabTests.healthz, "--standby", "--", khactl] + arguments, timeout: timeout)
            let last = try #require(result.stdoutLines.last, "no report: \(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "report: \(last)")
            print("measured \(arguments.prefix(6).joined(separator: " ")): \(last)")
            return (CommandResult(status: result.status, stdout: result.stdoutLines.dropLast().joined(separator: "\n"), stderr: result.stderr), report)
        }

        /// Whether haproxy (the profile's clone, lsb:haproxy) runs in `node`.
        func haproxyRuns(_ node: String) throws -> Bool {
            try tool(node, ["pgrep", "-f", "/etc/haproxy/haproxy.cfg"]).status == 0
        }

        func waitFor(_ what: String, seconds: Double = 60, _ condition: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if (try? condition()) == true { return }
                usleep(250_000)
            }
            Issue.record("timed out waiting for \(what)")
            throw TestSetupError("timed out waiting for \(what)")
        }

        /// The stand-in API server's version on `node`, asked from the lab client.
        func version(_ node: Int) throws -> String {
            try root.run(["lab", "exec", "client", "--", "curl", "-sk", "--max-time", "5", "https://198.18.0.1\(node):6443/version"]).stdout
        }
    }

    @Test("standby, move/ban/clear, maintenance, cleanup, a rolling upgrade with a failure and --resume, bad input")
    func dayTwo() throws {
        try BootstrapLabTests.withBareLab(3) { root in
            let lab = Lab(root: root)
            let boot = try root.run(["lab", "bootstrap", "--profile", "kubernetes-control-plane"], timeout: 300)
            try #require(boot.status == 0, "lab bootstrap: \(boot.stdout.suffix(2000)) \(boot.stderr)")
            try lab.waitFor("every resource started and the VIP answering") {
                let resources = try lab.status()["resources"] as? [[String: Any]] ?? []
                guard !resources.isEmpty, resources.allSatisfy({ $0["role"] as? String == "Started" }) else { return false }
                return try root.run(["lab", "exec", "client", "--", "curl", "-sk", "--max-time", "2", Self.healthz]).stdout == "ok"
            }
            #expect(try lab.inNode(["resource", "cleanup", "--wait", "60"]).status == 0)
            try standby(lab)
            try moveBanClear(lab)
            try maintenance(lab)
            try rollingUpgrade(lab)
            try badInput(lab)
        }
    }

    /// Standby of the VIP's holder: the VIP moves once, 0 dual-active; unstandby leaves it; apply writes nothing.
    func standby(_ lab: Lab) throws {
        let holder = try lab.holder()
        let (result, report) = try lab.measured(["lab", "exec", "node1", "--", lab.khactl, "node", "standby", holder, "--wait", "60", "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report["dualActiveSamples"] as? Int == 0, "\(report)")
        #expect(report["maxStandby"] as? Int == 1, "\(report)")
        #expect((report["longestPingGap"] as? Double ?? 99) < 10, "\(report)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let moved = try #require(output["moved"] as? [[String: Any]])
        let newHolder = try lab.holder()
        #expect(newHolder != holder)
        let vipMoves = moved.filter { $0["resource"] as? String == "vip" }
        #expect(vipMoves.count == 1)
        #expect(vipMoves.first?["from"] as? [String] == [holder] && vipMoves.first?["to"] as? [String] == [newHolder], "\(moved)")
        #expect(try lab.node(holder)["standby"] as? Bool == true)
        // Standby is cluster state: the spec's apply finds nothing to do and leaves it.
        let epoch = try lab.epoch()
        let plan = try lab.inNode(["plan", "-f", "\(lab.root.path)/lab/bootstrap.yaml"])
        #expect(plan.status == 0, "plan: \(plan.stdout) \(plan.stderr)")
        let apply = try lab.inNode(["apply", "-f", "\(lab.root.path)/lab/bootstrap.yaml"])
        #expect(apply.status == 0, "apply: \(apply.stderr)")
        #expect(try lab.epoch() == epoch)
        #expect(try lab.node(holder)["standby"] as? Bool == true)
        // Out of standby: stickiness keeps the VIP where it went.
        let (back, backReport) = try lab.measured(["lab", "exec", "node1", "--", lab.khactl, "node", "unstandby", holder, "--wait", "60"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(backReport["dualActiveSamples"] as? Int == 0)
        #expect(try lab.holder() == newHolder)
        #expect(try lab.node(holder)["standby"] as? Bool == false)
    }

    /// Move and ban remove their constraint once done; --keep keeps it and clear removes it.
    func moveBanClear(_ lab: Lab) throws {
        let holder = try lab.holder()
        let target = try #require(["node1", "node2", "node3"].first { $0 != holder })
        let (move, report) = try lab.measured(["lab", "exec", "node1", "--", lab.khactl, "resource", "move", "vip", "--node", target, "--output", "json"])
        #expect(move.status == 0, "\(move.stderr)")
        #expect(report["dualActiveSamples"] as? Int == 0, "\(report)")
        #expect(try lab.holder() == target)
        #expect(!(try lab.constraintsAndProperties()).contains("cli-"), "a move constraint was left behind")

        let other = try #require(["node1", "node2", "node3"].first { $0 != target })
        let kept = try lab.inNode(["resource", "move", "vip", "--node", other, "--keep"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try lab.holder() == other)
        #expect(try lab.constraintsAndProperties().contains(#"id="cli-prefer-vip""#))
        let cleared = try lab.inNode(["resource", "clear", "vip", "--output", "json"])
        #expect(cleared.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"removed":["cli-prefer-vip"],"resource":"vip"}"#)
        #expect(!(try lab.constraintsAndProperties()).contains("cli-"))

        let (ban, banReport) = try lab.measured(["lab", "exec", "node1", "--", lab.khactl, "resource", "ban", "vip"])
        #expect(ban.status == 0, "\(ban.stderr)")
        #expect(banReport["dualActiveSamples"] as? Int == 0)
        #expect(try lab.holder() != other)
        #expect(!(try lab.constraintsAndProperties()).contains("cli-"))
    }

    /// Maintenance: a killed haproxy is not recovered while it is on (cluster-wide or on its node), and is once off;
    /// cleanup then clears the failed actions.
    func maintenance(_ lab: Lab) throws {
        let holder = try lab.holder()
        let (victim, witness) = holder == "node2" ? ("node3", "node1") : holder == "node3" ? ("node2", "node1") : ("node2", "node3")
        #expect(try lab.inNode(["maintenance", "on", "--wait", "30"]).status == 0)
        #expect(try lab.status()["maintenanceMode"] as? Bool == true)
        #expect(try lab.tool(victim, ["pkill", "-f", "/etc/haproxy/haproxy.cfg"]).status == 0)
        sleep(7)  // three monitor intervals of haproxy (2 s)
        #expect(try lab.haproxyRuns(victim) == false, "haproxy was recovered in maintenance mode")
        #expect(try lab.inNode(["maintenance", "off", "--wait", "60"]).status == 0)
        try lab.waitFor("haproxy recovered on \(victim) after maintenance off") { try lab.haproxyRuns(victim) }

        // One node only: its haproxy stays down, another node's is recovered.
        #expect(try lab.inNode(["maintenance", "on", "--node", victim]).status == 0)
        #expect(try lab.node(victim)["maintenance"] as? Bool == true)
        #expect(try lab.tool(victim, ["pkill", "-f", "/etc/haproxy/haproxy.cfg"]).status == 0)
        #expect(try lab.tool(witness, ["pkill", "-f", "/etc/haproxy/haproxy.cfg"]).status == 0)
        try lab.waitFor("haproxy recovered on \(witness)") { try lab.haproxyRuns(witness) }
        sleep(5)
        #expect(try lab.haproxyRuns(victim) == false, "haproxy was recovered on a node in maintenance")
        #expect(try lab.inNode(["maintenance", "off", "--node", victim, "--wait", "60"]).status == 0)
        try lab.waitFor("haproxy recovered on \(victim)") { try lab.haproxyRuns(victim) }
        #expect(try lab.node(victim)["maintenance"] as? Bool == false)

        // The witness's monitor failure is a failed action until cleanup.
        #expect(!((try lab.status()["failedActions"] as? [Any]) ?? []).isEmpty)
        let cleanup = try lab.inNode(["resource", "cleanup", "--wait", "60", "--output", "json"])
        #expect(cleanup.status == 0, "\(cleanup.stderr)")
        #expect(((try lab.status()["failedActions"] as? [Any]) ?? [1]).isEmpty)
    }

    /// A rolling upgrade over three nodes, then one that fails on node2 and is resumed.
    func rollingUpgrade(_ lab: Lab) throws {
        let hook = [lab.khactl, "lab", "standin-upgrade", "--fail-if-exists", "/etc/khactl/fail-upgrade", "--version"]
        let (first, report) = try lab.measured(
            ["lab", "upgrade", "--each-node", "--health-url", "https://127.0.0.1:6443/healthz", "--output", "json", "--"] + hook + ["v1.31.0"])
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(report["dualActiveSamples"] as? Int == 0, "\(report)")
        #expect(report["maxStandby"] as? Int == 1, "\(report)")
        #expect((report["standbySamples"] as? Int ?? 0) > 10)
        #expect((report["longestHTTPOutage"] as? Double ?? 99) < 10, "\(report)")
        for node in 1...3 { #expect(try lab.version(node) == #"{"gitVersion":"v1.31.0"}"#, "node\(node)") }
        #expect(!(try lab.constraintsAndProperties()).contains("cli-"))
        #expect(!(try lab.constraintsAndProperties()).contains("khactl-upgrade"))

        // A hook failing on node2 stops the run there, node2 in standby, the endpoint serving.
        let marker = "\(lab.root.path)/lab/node2/etc/khactl/fail-upgrade"
        #expect(FileManager.default.createFile(atPath: marker, contents: Data()))
        let (failed, failedReport) = try lab.measured(["lab", "upgrade", "--each-node", "--order", "node1,node2,node3", "--"] + hook + ["v1.32.0"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("the rolling upgrade stopped at node2: the command exited 1 on node2"), "\(failed.stderr)")
        #expect(failed.stderr.contains("node2 stays in standby and the other nodes serve (done: node1)"), "\(failed.stderr)")
        #expect(failed.stderr.contains("khactl upgrade --each-node --resume"), "\(failed.stderr)")
        #expect(failedReport["dualActiveSamples"] as? Int == 0)
        #expect(try lab.node("node2")["standby"] as? Bool == true)
        #expect(try lab.root.run(["lab", "exec", "client", "--", "curl", "-sk", "--max-time", "5", Self.healthz]).stdout == "ok")
        #expect(try lab.version(1) == #"{"gitVersion":"v1.32.0"}"#)
        #expect(try lab.version(3) == #"{"gitVersion":"v1.31.0"}"#)
        // A new run is refused while this one is stopped.
        let again = try lab.root.run(["lab", "upgrade", "--each-node", "--"] + hook + ["v1.32.0"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("a rolling upgrade is already running or stopped"), "\(again.stderr)")
        // Fixed: --resume goes on from node2.
        try FileManager.default.removeItem(atPath: marker)
        let (resumed, resumedReport) = try lab.measured(["lab", "upgrade", "--each-node", "--resume", "--order", "node1,node2,node3", "--"] + hook + ["v1.32.0"])
        #expect(resumed.status == 0, "\(resumed.stdout) \(resumed.stderr)")
        #expect(resumed.stdout.contains("rolling over node2, node3 (done before: node1)"), "\(resumed.stdout)")
        #expect(resumedReport["dualActiveSamples"] as? Int == 0)
        #expect(resumedReport["maxStandby"] as? Int == 1)
        for node in 1...3 { #expect(try lab.version(node) == #"{"gitVersion":"v1.32.0"}"#, "node\(node)") }
        let nodes = try #require(try lab.status()["nodes"] as? [[String: Any]])
        #expect(nodes.allSatisfy { $0["standby"] as? Bool == false })
        #expect(!(try lab.constraintsAndProperties()).contains("khactl-upgrade"))
        #expect(!(try lab.constraintsAndProperties()).contains("cli-"))
    }

    /// Unknown node or resource, a missing hook, an unhealthy cluster: exit 1, a clear message, the CIB unchanged.
    func badInput(_ lab: Lab) throws {
        let epoch = try lab.epoch()
        let node = try lab.inNode(["node", "standby", "node9"])
        #expect(node.status == 1)
        #expect(node.stderr.contains("node 'node9' is not in the cluster (its nodes: node1, node2, node3); nothing was changed"), "\(node.stderr)")
        let resource = try lab.inNode(["resource", "move", "nope", "--node", "node1"])
        #expect(resource.status == 1)
        #expect(resource.stderr.contains("resource 'nope' is not in the CIB"), "\(resource.stderr)")
        let hook = try lab.root.run(["lab", "upgrade", "--each-node", "--hook", "/nonexistent/hook"])
        #expect(hook.status == 1)
        #expect(hook.stderr.contains("the hook /nonexistent/hook does not exist; nothing was changed"), "\(hook.stderr)")
        let order = try lab.root.run(["lab", "upgrade", "--each-node", "--order", "node1,node7", "--", "/bin/true"])
        #expect(order.status == 1)
        #expect(order.stderr.contains("node 'node7' of --order is not in the cluster"), "\(order.stderr)")
        #expect(try lab.epoch() == epoch)
        // An unhealthy cluster: a node already in standby.
        #expect(try lab.tool("node1", ["crm_attribute", "--node", "node3", "--name", "standby", "--update", "on"]).status == 0)
        let unhealthy = try lab.root.run(["lab", "upgrade", "--each-node", "--", "/bin/true"])
        #expect(unhealthy.status == 1)
        #expect(unhealthy.stderr.contains("the cluster is not healthy: in standby: node3; nothing was changed (--force starts anyway)"), "\(unhealthy.stderr)")
        #expect(!(try lab.constraintsAndProperties()).contains("khactl-upgrade"))
        #expect(try lab.inNode(["node", "unstandby", "node3", "--wait", "60"]).status == 0)
    }
}
