import Foundation
import Testing
import TestSupport

/// Pacemaker's alerts through `khactl alert install` and `khactl watch --alerts --leader-only`: resource,
/// node and fencing events once per cluster, also when the leader's node dies.
@Suite("khactl watch --alerts in the lab", .serialized)
struct AlertTests {
    /// A watcher started inside a lab node, writing JSON lines to a file; spawned with khactl's own
    /// `Daemon.spawn` (its own session, fds closed), so stopping it can signal its whole process group,
    /// the watcher inside the node included.
    final class Watcher {
        let child: ChildProcess
        let file: String

        init(_ root: LabTests.LabRoot, node: Int) throws {
            file = "\(root.path)/events-node\(node).jsonl"
            child = try ChildProcess.spawn(
                productsDirectory.appendingPathComponent("khactl").path,
                [
                    "lab", "exec", "node\(node)", "--", productsDirectory.appendingPathComponent("khactl").path,
                    "watch", "--leader-only", "--alerts", "--output", "json",
                ],
                log: file, environment: root.environment)
        }

        func stop() {
            kill(-child.pid, SIGTERM)
            child.terminate(grace: 5)
        }

        var events: [[String: Any]] {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    func vipHolder(_ root: LabTests.LabRoot) throws -> String? {
        let status = try root.json(["lab", "status", "--output", "json"])
        let resources = status["resources"] as? [[String: Any]] ?? []
        return (resources.first { $0["id"] as? String == "vip" }?["nodes"] as? [String])?.first
    }

    func waitFor(_ what: String, timeout: TimeInterval = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(250_000)
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// The events of all watchers after `since` (RFC 3339 text compares in time order).
    func events(_ watchers: [Watcher], since: String) -> [[String: Any]] {
        watchers.flatMap(\.events).filter { ($0["time"] as? String ?? "") > since }
    }

    func count(_ events: [[String: Any]], _ match: ([String: Any]) -> Bool) -> Int { events.filter(match).count }

    func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    @Test("a crash, then the leader's node crashes: each membership, node, fencing and VIP start event once")
    func oncePerCluster() throws {
        try BootstrapLabTests.withBareLab(3) { root in
            let bootstrap = try root.run(["lab", "bootstrap", "--profile", "kubernetes-control-plane"], timeout: 300)
            try #require(bootstrap.status == 0, "\(bootstrap.stderr)")
            let khactl = productsDirectory.appendingPathComponent("khactl").path
            let install = try root.run(["lab", "exec", "node1", "--", khactl, "alert", "install"])
            #expect(install.status == 0, "\(install.stderr)")
            let again = try root.run(["lab", "exec", "node2", "--", khactl, "alert", "install"])
            #expect(again.stdout.contains("already installed"), "\(again.stdout)")
            let watchers = try (1...3).map { try Watcher(root, node: $0) }
            defer { for watcher in watchers { watcher.stop() } }
            // The group of three is reported once, by whichever watcher led when the last one joined.
            try waitFor("the watchers' group") {
                watchers.contains { $0.events.contains { $0["kind"] as? String == "cpg" && ($0["members"] as? [Any])?.count == 3 } }
            }
            try waitFor("the VIP") { try vipHolder(root) != nil }
            // A settled cluster, and time for the alerts of its first starts to arrive, before anything counts.
            _ = try root.run(["lab", "exec", "node1", "--", "crm_resource", "--wait", "--timeout=60s"], timeout: 90)
            usleep(2_000_000)

            for round in 1...2 {
                // Round 1 crashes the VIP's holder (node2 or node3); round 2 crashes node1, the leader.
                let holder = try #require(try vipHolder(root))
                let victim = round == 1 ? holder : "node1"
                if round == 2 && holder == "node1" { continue }
                let victimID = Int(victim.dropFirst(4))!
                let since = now()
                let kill = try root.run(["lab", "kill", victim, "--mode", "crash"])
                #expect(kill.status == 0)
                var after: [[String: Any]] = []
                try waitFor("round \(round): the events of \(victim)'s crash") {
                    after = events(watchers, since: since)
                    return count(after) { $0["kind"] as? String == "fencing" } >= 1
                        && count(after) { $0["kind"] as? String == "resource" && $0["resource"] as? String == "vip" && $0["task"] as? String == "start" } >= (round == 1 ? 1 : 0)
                }
                usleep(3_000_000)  // late doubles would show up here
                after = events(watchers, since: since)
                let left = count(after) { $0["kind"] as? String == "membership" && ($0["left"] as? [Int]) == [victimID] }
                let lost = count(after) { $0["kind"] as? String == "node" && $0["target"] as? String == victim && $0["desc"] as? String == "lost" }
                let fenced = count(after) { $0["kind"] as? String == "fencing" && $0["target"] as? String == victim }
                let vipStarts = count(after) { $0["kind"] as? String == "resource" && $0["resource"] as? String == "vip" && $0["task"] as? String == "start" }
                #expect(left == 1, "round \(round): membership left \(left) times")
                // One quorum event for the ring without the victim (still quorate: two of three).
                let ring = after.first { $0["kind"] as? String == "membership" && ($0["left"] as? [Int]) == [victimID] }?["ringID"] as? String
                let quorum = count(after) { $0["kind"] as? String == "quorum" && $0["ringID"] as? String == ring && $0["quorate"] as? Bool == true }
                #expect(ring != nil && quorum == 1, "round \(round): quorum for ring \(ring ?? "-") \(quorum) times")
                #expect(lost == 1, "round \(round): node lost \(lost) times")
                #expect(fenced == 1, "round \(round): fencing \(fenced) times")
                #expect(
                    vipStarts == (round == 1 ? 1 : 0),
                    "round \(round): vip started \(vipStarts) times: \(after.filter { $0["kind"] as? String == "resource" && $0["resource"] as? String == "vip" })")
                // After the leader's node died, a survivor's watcher emitted them.
                if round == 2 {
                    #expect(count(watchers[1].events + watchers[2].events) { $0["kind"] as? String == "fencing" } >= 1)
                } else {
                    let revive = try root.run(["lab", "revive", victim])
                    #expect(revive.status == 0)
                    try waitFor("\(victim) back") {
                        let status = try root.json(["lab", "status", "--output", "json"])
                        return (status["nodes"] as? [[String: Any]] ?? []).allSatisfy { $0["online"] as? Bool == true }
                    }
                }
            }
        }
    }
}
