import Foundation
import Pacemaker
import Testing
import TestSupport

/// `khactl plan` / `apply` against a live single-node cluster: a one-node lab (corosync, pacemaker, a Redfish
/// BMC) started by the test in its own namespaces; khactl runs inside the node.
@Suite("khactl apply on a live cluster", .serialized)
struct ApplyLiveTests {
    static let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/apply")

    /// A one-node lab and a folder of specs, removed afterwards.
    final class LiveNode: @unchecked Sendable {
        let root: LabTests.LabRoot
        let folder: String
        let khactl = productsDirectory.appendingPathComponent("khactl").path

        init() throws {
            root = try LabTests.LabRoot()
            folder = root.path + "/specs"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let up = try root.run(["lab", "up", "--nodes", "1"], timeout: 120)
            guard up.status == 0 else { throw TestSetupError("lab up --nodes 1 exited \(up.status): \(up.stderr)") }
        }

        func close() {
            _ = try? root.run(["lab", "down"])
            root.remove()
        }

        /// Runs khactl inside the node.
        func khactl(_ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
            try root.run(["lab", "exec", "node1", "--", khactl] + arguments, timeout: timeout)
        }

        /// Runs a tool inside the node.
        func tool(_ arguments: [String]) throws -> CommandResult {
            try root.run(["lab", "exec", "node1", "--"] + arguments)
        }

        /// Writes a spec and returns its path.
        func spec(_ name: String, _ text: String) throws -> String {
            let path = "\(folder)/\(name).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// The live CIB's epoch.
        func epoch() throws -> Int {
            let query = try tool(["cibadmin", "--query"])
            guard query.status == 0,
                let match = query.stdout.firstMatch(of: #/<cib [^>]*\bepoch="(\d+)"/#), let epoch = Int(match.output.1)
            else { throw TestSetupError("cannot read the CIB's epoch: \(query.stderr)") }
            return epoch
        }

        /// `khactl plan -f PATH`'s exit status (0: the cluster matches).
        func planStatus(_ path: String) throws -> Int32 { try khactl(["plan", "-f", path]).status }
    }

    static var labSpec: String {
        get throws { try String(contentsOf: specs.appendingPathComponent("lab-control-plane.yaml"), encoding: .utf8) }
    }

    @Test("apply starts the resources, a re-run writes nothing, changes and bad input behave, pcs and cib agree")
    func applyLifecycle() throws {
        let node = try LiveNode()
        defer { node.close() }
        let spec = try node.spec("control-plane", try Self.labSpec)

        let planned = try node.khactl(["plan", "-f", spec, "--simulate"])
        #expect(planned.status == 2, "plan: \(planned.stdout) \(planned.stderr)")
        #expect(planned.stdout.contains("+ add primitive vip"))
        #expect(planned.stdout.contains("start vip on node1"), "simulation: \(planned.stdout)")
        let epoch0 = try node.epoch()
        #expect(try node.epoch() == epoch0, "plan wrote")

        let applied = try node.khactl(["apply", "-f", spec, "--wait", "60"], timeout: 90)
        #expect(applied.status == 0, "apply: \(applied.stdout) \(applied.stderr)")
        #expect(applied.stdout.contains("Applied 8 changes via cib"))
        #expect(applied.stdout.contains("Cluster settled; no failed actions."))
        let status = try node.root.json(["lab", "exec", "node1", "--", node.khactl, "status", "--output", "json"])
        let resources = try #require(status["resources"] as? [[String: Any]])
        for id in ["vip", "haproxy", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] {
            #expect(resources.contains { $0["id"] as? String == id && $0["role"] as? String == "Started" }, "\(id) not started: \(resources)")
        }

        // Re-apply: nothing planned, nothing written.
        let epoch1 = try node.epoch()
        let again = try node.khactl(["apply", "-f", spec])
        #expect(again.status == 0)
        #expect(again.stdout.hasPrefix("No changes"))
        #expect(try node.epoch() == epoch1)
        #expect(try node.planStatus(spec) == 0)

        // Bad input: clear error, exit 1, epoch unchanged.
        let bad: [(String, String, String)] = [
            ("unknown-agent", "resources:\n  - {id: x, agent: \"ocf:heartbeat:NoSuchAgent\"}\n", "agent ocf:heartbeat:NoSuchAgent is not installed here"),
            ("missing-reference", "resources:\n  - {id: x, agent: \"ocf:pacemaker:Dummy\"}\nconstraints:\n  - order: {first: x, then: nowhere}\n", "nowhere"),
            ("invalid-ip", "resources:\n  - {id: x, agent: \"ocf:heartbeat:IPaddr2\", params: {ip: 198.18.0.300}}\n", "198.18.0.300"),
            ("not-owned", "resources:\n  - {id: fence-node1, agent: \"ocf:pacemaker:Dummy\"}\n", "was not made by khactl; run with --adopt"),
        ]
        for (name, text, message) in bad {
            let result = try node.khactl(["apply", "-f", try node.spec(name, text)])
            #expect(result.status == 1, "\(name): \(result.stdout) \(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(try node.epoch() == epoch1, "\(name) changed the CIB")
        }

        // A changed attribute: one change in the plan, the resource stays (no delete/create in the CIB).
        let changed = try node.spec("changed", try Self.labSpec.replacingOccurrences(of: "resource-stickiness: \"100\"", with: "resource-stickiness: \"150\""))
        let change = try node.khactl(["apply", "-f", changed, "--output", "json"])
        #expect(change.status == 0, "\(change.stderr)")
        #expect(change.stdout.contains(#""action":"change""#) && change.stdout.contains(#""new":"150""#), "\(change.stdout)")

        // The pcs route applied to the same state gives the configuration the cib route gave.
        let cibRouteConfiguration = try node.tool(["cibadmin", "--query", "--scope", "configuration"]).stdout
        let back = try node.khactl(["apply", "-f", spec, "--via", "pcs"], timeout: 120)
        #expect(back.status == 0, "\(back.stderr)")
        let forth = try node.khactl(["apply", "-f", changed, "--via", "pcs"], timeout: 120)
        #expect(forth.status == 0, "\(forth.stderr)")
        let pcsRouteConfiguration = try node.tool(["cibadmin", "--query", "--scope", "configuration"]).stdout
        #expect(
            canonicalXML(cibRouteConfiguration) == canonicalXML(pcsRouteConfiguration),
            "routes differ:\n\(cibRouteConfiguration)\n---\n\(pcsRouteConfiguration)")
    }

    @Test("a CIB file made for other hosts: agents missing here refuse plan and apply, --no-agent-check plans and applies it; only with --cib-file")
    func noAgentCheck() throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        let spec = cib.folder.appendingPathComponent("spec.yaml").path
        try """
            resources:
              - {id: fence-elsewhere, agent: "stonith:fence_elsewhere", params: {ip: 198.18.0.211}}
              - {id: app, agent: "ocf:vendor:NotHere"}
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let before = cib.text
        let refused = try runKhactl(["plan", "-f", spec, "--cib-file", cib.path])
        #expect(refused.status == 1)
        #expect(refused.stderr == """
            error: primitive 'fence-elsewhere': agent stonith:fence_elsewhere is not installed here (no executable /usr/sbin/fence_elsewhere)
            error: primitive 'app': agent ocf:vendor:NotHere is not installed here (no executable /usr/lib/ocf/resource.d/vendor/NotHere)
            2 agents missing; nothing was read or written

            """, "\(refused.stderr)")
        let plan = try runKhactl(["plan", "-f", spec, "--cib-file", cib.path, "--no-agent-check"])
        #expect(plan.status == 2, "\(plan.stdout) \(plan.stderr)")
        #expect(plan.stdout.contains("+ add primitive fence-elsewhere") && plan.stdout.contains("+ add primitive app"), "\(plan.stdout)")
        #expect(cib.text == before)
        let apply = try runKhactl(["apply", "-f", spec, "--cib-file", cib.path, "--no-agent-check"])
        #expect(apply.status == 0, "\(apply.stderr)")
        let resources = try toolOutput("cibadmin", ["--query", "--scope", "resources"], environment: ["CIB_file": cib.path])
        #expect(canonicalXML(resources) == canonicalXML("""
            <resources>
              <primitive id="fence-elsewhere" class="stonith" type="fence_elsewhere">
                <instance_attributes id="fence-elsewhere-instance_attributes">
                  <nvpair id="fence-elsewhere-instance_attributes-ip" name="ip" value="198.18.0.211"/>
                </instance_attributes>
                <operations><op name="monitor" interval="60s" id="fence-elsewhere-monitor-interval-60s"/></operations>
              </primitive>
              <primitive id="app" class="ocf" provider="vendor" type="NotHere">
                <operations><op name="monitor" interval="60s" id="app-monitor-interval-60s"/></operations>
              </primitive>
            </resources>
            """), "\(resources)")
        let live = try runKhactl(["plan", "-f", spec, "--no-agent-check"])
        #expect(live.status == 64)
        #expect(live.stderr.contains("Error: --no-agent-check goes with --cib-file (a live cluster runs its agents here)"), "\(live.stderr)")
    }

    @Test("an apply killed with SIGKILL at random moments leaves the CIB as before or as the spec, never in between (20 runs)")
    func killedApplies() throws {
        let node = try LiveNode()
        defer { node.close() }
        let base = try Self.labSpec
        let specA = try node.spec("a", base)
        // B differs from A in four objects: a property of the defaults, the VIP, a clone, a group member.
        let specB = try node.spec(
            "b",
            base.replacingOccurrences(of: "resource-stickiness: \"100\"", with: "resource-stickiness: \"200\"")
                .replacingOccurrences(of: "198.18.0.100", with: "198.18.0.101")
                .replacingOccurrences(of: "operations: [{name: monitor, interval: 2s}]\n    clone:", with: "operations: [{name: monitor, interval: 3s}]\n    clone:")
                .replacingOccurrences(of: "{id: kube-scheduler, agent: \"ocf:pacemaker:Dummy\"}", with: "{id: kube-scheduler, agent: \"ocf:pacemaker:Dummy\", params: {fake: b}}"))
        #expect(try node.khactl(["apply", "-f", specA]).status == 0)
        var killedMidway = 0
        var outcomes: [String] = []
        for run in 0..<20 {
            let target = run % 2 == 0 ? specB : specA
            let process = try startKhactl(["lab", "exec", "node1", "--", node.khactl, "apply", "-f", target], environment: node.root.environment)
            usleep(useconds_t.random(in: 0...400_000))
            let tree = descendants(of: process.processIdentifier) + [process.processIdentifier]
            for pid in tree.reversed() { kill(pid, SIGKILL) }
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killedMidway += 1 }
            // Anything still in flight (a cibadmin that escaped) has had time to land.
            usleep(500_000)
            let matchesA = try node.planStatus(specA) == 0
            let matchesB = try node.planStatus(specB) == 0
            #expect(matchesA != matchesB, "run \(run): the CIB matches \(matchesA && matchesB ? "both" : "neither") spec")
            outcomes.append(matchesA ? "A" : "B")
            let verify = try node.tool(["crm_verify", "--live-check"])
            #expect(verify.status == 0, "run \(run): crm_verify: \(verify.stderr)")
        }
        #expect(killedMidway >= 5, "only \(killedMidway) of 20 applies were killed before they ended; outcomes \(outcomes)")
        // A killed apply leaves its private folder (CIB copies, fence passwords and all); the next apply removes
        // every folder whose lock nobody holds.
        // The workspaces live in khactl's private folder: /run/khactl/apply inside the node (its own /run).
        let folder = "\(node.root.path)/lab/node1/run/khactl/apply"
        let abandoned = Self.abandonedWorkspaces(in: folder)
        // Whether or not a kill landed while a folder existed: one folder as a killed apply leaves it, and one
        // whose lock this test holds, as a running apply in another PID namespace would.
        let dead = "\(folder)/khactl-apply-dead\(UUID().uuidString.prefix(6))"
        let busy = "\(folder)/khactl-apply-busy\(UUID().uuidString.prefix(6))"
        for path in [dead, busy] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            #expect(FileManager.default.createFile(atPath: "\(path)/.lock", contents: nil))
        }
        let held = open("\(busy)/.lock", O_RDWR)
        #expect(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0)
        defer {
            close(held)
            try? FileManager.default.removeItem(atPath: busy)
        }
        #expect(try node.khactl(["apply", "-f", specA]).status == 0)
        #expect(Self.abandonedWorkspaces(in: folder) == [], "left behind by killed applies: \(abandoned)")
        #expect(!FileManager.default.fileExists(atPath: dead), "an abandoned folder was not removed")
        #expect(FileManager.default.fileExists(atPath: busy), "a folder whose lock is held was removed")
        print("killed applies: \(killedMidway)/20 killed midway; outcomes \(outcomes.joined()); \(abandoned.count) folder(s) left, then removed")
    }

    /// The apply workspaces in `folder` whose lock is free.
    static func abandonedWorkspaces(in folder: String) -> [String] {
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { entry in
            guard entry.hasPrefix("khactl-apply-"), !entry.hasPrefix("khactl-apply-test-") else { return false }
            let fd = open("\(folder)/\(entry)/.lock", O_RDWR)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            return flock(fd, LOCK_EX | LOCK_NB) == 0
        }
    }

    @Test("two applies of different specs started together never lose an update (20 races)")
    func concurrentApplies() throws {
        let node = try LiveNode()
        defer { node.close() }
        func spec(_ prefix: String, _ round: Int) throws -> String {
            try node.spec("\(prefix)\(round)", """
                resources:
                  - {id: \(prefix)1, agent: "ocf:pacemaker:Dummy", params: {fake: "r\(round)"}}
                  - {id: \(prefix)2, agent: "ocf:pacemaker:Dummy", params: {fake: "r\(round)"}}
                  - {id: \(prefix)3, agent: "ocf:pacemaker:Dummy", meta: {description-of-round: "r\(round)"}}
                constraints:
                  - order: {first: \(prefix)1, then: \(prefix)2, kind: Optional}
                  - colocation: {resource: \(prefix)2, with: \(prefix)1, score: "100"}
                """)
        }
        var current = ["c": try spec("c", 0), "d": try spec("d", 0)]
        for prefix in ["c", "d"] { #expect(try node.khactl(["apply", "-f", current[prefix]!]).status == 0) }
        var conflicts = 0
        var refused = 0
        for round in 1...20 {
            let next = ["c": try spec("c", round), "d": try spec("d", round)]
            let group = DispatchGroup()
            let results = Mutex2<[String: CommandResult]>([:])
            for prefix in ["c", "d"] {
                group.enter()
                DispatchQueue.global().async {
                    defer { group.leave() }
                    if let result = try? node.khactl(["apply", "-f", next[prefix]!]) {
                        var all = results.value
                        all[prefix] = result
                        results.set(all)
                    }
                }
            }
            group.wait()
            for prefix in ["c", "d"] {
                let result = try #require(results.value[prefix], "round \(round): apply \(prefix) did not run")
                conflicts += result.stderr.components(separatedBy: "the CIB changed since it was read").count - 1
                if result.status == 0 {
                    #expect(try node.planStatus(next[prefix]!) == 0, "round \(round): \(prefix) said applied but the CIB differs")
                    current[prefix] = next[prefix]!
                } else {
                    refused += 1
                    #expect(result.stderr.contains("changed under the apply"), "round \(round): \(prefix): \(result.stderr)")
                    #expect(try node.planStatus(current[prefix]!) == 0, "round \(round): \(prefix) failed and left half of it")
                }
            }
        }
        print("concurrent applies: \(conflicts) conflicts retried, \(refused) applies refused, 40 applies")
    }
}


/// Starts the built khactl without waiting for it.
func startKhactl(_ arguments: [String], environment: [String: String]) throws -> Process {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent("khactl")
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
}

/// Every descendant of `pid`, parents before children (from /proc/PID/stat).
func descendants(of pid: Int32) -> [Int32] {
    var parents: [Int32: [Int32]] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 2, let parent = Int32(fields[1]) { parents[parent, default: []].append(child) }
    }
    var result: [Int32] = []
    var queue = [pid]
    while let next = queue.first {
        queue.removeFirst()
        for child in parents[next] ?? [] {
            result.append(child)
            queue.append(child)
        }
    }
    return result
}
