import Corosync
import Foundation
import KhactlCore
import Testing
import TestSupport

/// The built `khactl` binary against a real corosync.
@Suite("khactl members and watch", .serialized)
struct CLITests {
    nonisolated(unsafe) static let rfc3339Milliseconds = #/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/#  // immutable after init

    func object(_ line: String) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(value as? [String: Any], "not a JSON object: \(line)")
    }

    @Test("members --output json prints the local node, quorum and members with names and addresses")
    func membersJSON() async throws {
        try await withCorosync { node in
            let result = try runKhactl(["members", "--output", "json", "--netns", node.namespacePath])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdoutLines.count == 1)
            let json = try object(result.stdout)
            #expect(json["localNodeID"] as? Int == 1)
            #expect(json["quorate"] as? Bool == true)
            let members = try #require(json["members"] as? [[String: Any]])
            #expect(members.count == 1)
            #expect(members.first?["nodeID"] as? Int == 1)
            #expect(members.first?["name"] as? String == "alpha")
            #expect(members.first?["addresses"] as? [String] == ["127.0.0.1"])
            #expect(members.first?["votes"] as? Int == 1)
            let votes = try #require(json["votes"] as? [String: Any])
            #expect(votes["quorum"] as? Int == 1)

            // The way an operator reaches a namespaced corosync: nsenter around a plain `khactl members`.
            let entered = try runKhactl(["members"], via: ["/usr/bin/nsenter", "--net=\(node.namespacePath)"])
            #expect(entered.status == 0, "stderr: \(entered.stderr)")
            #expect(entered.stdout.contains("alpha"))
            #expect(entered.stdout.contains("Quorate:     yes"))
        }
    }

    @Test("watch --output json --count 1 prints one event with time, kind and node")
    func watchOne() async throws {
        try await withCorosync { node in
            let result = try runKhactl(["watch", "--output", "json", "--count", "1", "--netns", node.namespacePath])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdoutLines.count == 1)
            let json = try object(result.stdoutLines.first ?? "")
            let time = try #require(json["time"] as? String)
            #expect(time.wholeMatch(of: Self.rfc3339Milliseconds) != nil, "time \(time)")
            #expect(["membership", "quorum", "cpg"].contains(json["kind"] as? String ?? ""))
            #expect(json["node"] as? Int == 1)
            #expect(json["members"] != nil)
        }
    }

    @Test("watch reports membership, quorum and the watcher's own CPG join")
    func watchKinds() async throws {
        try await withCorosync { node in
            let result = try runKhactl(["watch", "--output", "json", "--count", "3", "--netns", node.namespacePath])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let events = try result.stdoutLines.map(object)
            #expect(Set(events.compactMap { $0["kind"] as? String }) == ["membership", "quorum", "cpg"])
            let quorum = try #require(events.first { $0["kind"] as? String == "quorum" })
            #expect(quorum["quorate"] as? Bool == true)
            #expect(quorum["members"] as? [Int] == [1])
            let cpg = try #require(events.first { $0["kind"] as? String == "cpg" })
            #expect(cpg["group"] as? String == "khactl-watch")
            let joined = try #require(cpg["joined"] as? [[String: Any]])
            #expect(joined.first?["reason"] as? String == "join")
        }
    }

    @Test("Without corosync: one line naming the cause, non-zero exit, nothing on stdout")
    func notRunning() async throws {
        try TestCorosync.requireRootAndNamespaces()
        let holder = try ChildProcess.spawn("/usr/bin/unshare", ["--net", "--", "sleep", "100000"])
        defer { holder.terminate(grace: 1) }
        try await Task.sleep(for: .milliseconds(200))
        for command in [["members"], ["watch", "--count", "1"]] {
            let result = try runKhactl(command + ["--netns", "/proc/\(holder.pid)/ns/net"])
            #expect(result.status == 1)
            #expect(result.stdout.isEmpty)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("corosync is not running or not reachable"))
        }
        let bad = try runKhactl(["watch", "--count", "0"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--count must be at least 1"))
        let sink = try runKhactl(["watch", "--sink", "syslog"])
        #expect(sink.status != 0)
        #expect(sink.stderr.contains("unknown sink \"syslog\": use stdout, exec:PATH or webhook:URL"))
        let agent = try runKhactl(["watch", "--sink", "exec:relative/agent.sh"])
        #expect(agent.status != 0)
        #expect(agent.stderr.contains("is not an executable file given by its absolute path"))
    }

    @Test("The event source reports a corosync restart and reconnects by itself")
    func reconnect() async throws {
        try await withCorosync { node in
            let source = ClusterEventSource(endpoint: node.endpoint, reconnect: true, maximumBackoff: .milliseconds(400))
            let events = EventCollector(try source.events().map { $0.event })
            defer { events.cancel() }
            try await events.wait(for: "the first quorum state") { $0.contains { $0.kind == "quorum" } }
            node.stopCorosync()
            try await events.wait(for: "disconnected") { $0.contains { if case .disconnected = $0 { true } else { false } } }
            try node.startCorosync()
            let seen = try await events.wait(for: "reconnected, then a quorum state", timeout: 20) { events in
                guard let index = events.firstIndex(where: { if case .reconnected = $0 { true } else { false } }) else {
                    return false
                }
                return events[index...].contains { if case .quorum(let state) = $0 { state.quorate } else { false } }
            }
            // disconnected comes before reconnected, exactly once each.
            let connection = seen.filter { $0.kind == "connection" }
            #expect(connection.count == 2)
            if case .disconnected(let reason)? = connection.first {
                #expect(reason.contains("corosync is not running"))
            } else {
                Issue.record("the first connection event is not disconnected: \(connection)")
            }
        }
    }
}
