import Corosync
import Foundation
import KhactlLab
import KhactlCore
import Logging
import Testing
import TestSupport

/// `khactl watch --sink webhook:URL`: the built binary against a real corosync and a loopback receiver.
@Suite("watch webhook sink", .serialized)
struct WebhookSinkTests {
    nonisolated(unsafe) static let summaryPattern = #/sink (\S+): received=(\d+) delivered=(\d+) failed=(\d+) dropped=(\d+) abandoned=(\d+) retries=(\d+)/#  // immutable after init

    /// The counts of a summary line in `text`.
    static func summary(in text: String) throws -> (received: Int, delivered: Int, failed: Int, dropped: Int, abandoned: Int, retries: Int) {
        let match = try #require(text.firstMatch(of: summaryPattern), "no summary line in: \(text)")
        let numbers = [match.2, match.3, match.4, match.5, match.6, match.7].map { Int($0)! }
        return (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5])
    }

    /// A random token, written 0600 to a file of a fresh folder.
    static func tokenFile(named name: String = "token") throws -> (path: String, token: String, folder: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-webhook-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let token = "tok-" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let path = "\(folder)/\(name)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("\(token)\n".utf8), attributes: [.posixPermissions: 0o600]))
        return (path, token, folder)
    }

    @Test("Two 503s, then every event arrives once, in order, with the bearer token from a file, after backoff")
    func retriesWithTokenFile() async throws {
        let receiver = try WebhookReceiver(script: [503, 503])
        defer { receiver.stop() }
        let secret = try Self.tokenFile()
        defer { try? FileManager.default.removeItem(atPath: secret.folder) }
        try await withCorosync { node in
            let result = try runKhactl([
                "watch", "--output", "json", "--count", "3", "--sink", "stdout", "--sink", "webhook:\(receiver.url)/hooks/khactl?team=ops",
                "--webhook-token-file", secret.path, "--log-level", "debug", "--netns", node.namespacePath,
            ])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let requests = receiver.requests
            #expect(requests.map(\.status) == [503, 503, 200, 200, 200])
            // What stdout printed is exactly what was posted, event by event.
            #expect(result.stdoutLines.count == 3)
            #expect(requests.suffix(3).map(\.bodyText) == result.stdoutLines)
            #expect(requests.prefix(3).allSatisfy { $0.bodyText == result.stdoutLines.first })
            for request in requests {
                #expect(request.method == "POST")
                #expect(request.target == "/hooks/khactl?team=ops")
                #expect(request.headers["authorization"] == "Bearer \(secret.token)")
                #expect(request.headers["content-type"] == "application/json")
                #expect(request.headers["content-length"] == String(request.body.count))
                #expect(request.json?["kind"] != nil, "body: \(request.bodyText)")
            }
            // Equal jitter: at least half of each ceiling (250 ms, then 500 ms) passed between attempts.
            if requests.count >= 3 {
                #expect(requests[1].received - requests[0].received >= .milliseconds(125))
                #expect(requests[2].received - requests[1].received >= .milliseconds(250))
            }
            let counts = try Self.summary(in: result.stderr)
            #expect(counts.received == 3 && counts.delivered == 3 && counts.failed == 0 && counts.dropped == 0 && counts.abandoned == 0)
            #expect(counts.retries == 2)
            #expect(result.stderr.contains("attempt 1 failed (HTTP 503)"))
            #expect(!result.stdout.contains(secret.token) && !result.stderr.contains(secret.token))
        }
    }

    /// A test CA, a certificate for 127.0.0.1 only (no host name) signed by it, and an HTTPS receiver on loopback
    /// (python's http.server with ssl) that appends each request as a JSON line to a file and answers 204.
    final class HTTPSReceiver {
        let folder: String
        let port: Int
        let process: Process
        var caFile: String { "\(folder)/ca.pem" }
        var requestsFile: String { "\(folder)/requests.jsonl" }

        init() throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-https-\(UUID().uuidString.prefix(8))").path
            self.folder = folder
            let caFile = "\(folder)/ca.pem"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            func openssl(_ arguments: [String]) throws {
                let result = try runTool("/usr/bin/openssl", arguments)
                guard result.status == 0 else { throw TestSetupError("openssl \(arguments.first ?? ""): \(result.stderr)") }
            }
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(folder)/ca.key", "-out", caFile, "-days", "1", "-subj", "/CN=khactl test CA"])
            try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(folder)/server.key", "-out", "\(folder)/server.csr", "-subj", "/CN=127.0.0.1"])
            try "subjectAltName=IP:127.0.0.1\n".write(toFile: "\(folder)/san.ext", atomically: true, encoding: .utf8)
            try openssl([
                "x509", "-req", "-in", "\(folder)/server.csr", "-CA", caFile, "-CAkey", "\(folder)/ca.key", "-CAcreateserial",
                "-out", "\(folder)/server.pem", "-days", "1", "-extfile", "\(folder)/san.ext",
            ])
            let script = """
                import http.server, json, ssl, sys
                class Handler(http.server.BaseHTTPRequestHandler):
                    protocol_version = "HTTP/1.1"
                    def do_POST(self):
                        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                        with open(sys.argv[3], "a") as out:
                            out.write(json.dumps({"target": self.path, "authorization": self.headers.get("Authorization"), "body": body.decode()}) + "\\n")
                        self.send_response(204)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    def log_message(self, *args):
                        pass
                server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(sys.argv[1], sys.argv[2])
                server.socket = context.wrap_socket(server.socket, server_side=True)
                print(server.server_address[1], flush=True)
                server.serve_forever()
                """
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script, "\(folder)/server.pem", "\(folder)/server.key", "\(folder)/requests.jsonl"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let line = String(decoding: output.fileHandleForReading.availableDataOrLine(), as: UTF8.self)
            guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestSetupError("receiver: \(line)") }
            self.port = port
        }

        var requests: [[String: Any]] {
            ((try? String(contentsOfFile: requestsFile, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        func stop() {
            // SIGKILL: a child of Foundation's Process keeps the test thread's blocked signals, SIGTERM included.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    @Test("https: delivered with --webhook-ca-file; without it refused, failed, no request and no token sent")
    func https() async throws {
        let receiver = try HTTPSReceiver()
        defer { receiver.stop() }
        let secret = try Self.tokenFile()
        defer { try? FileManager.default.removeItem(atPath: secret.folder) }
        try await withCorosync { node in
            func watch(_ url: String, _ extra: [String]) throws -> CommandResult {
                try runKhactl(
                    ["watch", "--output", "json", "--count", "2", "--sink", "stdout", "--sink", "webhook:\(url)", "--webhook-token-file", secret.path,
                     "--netns", node.namespacePath] + extra, timeout: 60)
            }
            let delivered = try watch("https://127.0.0.1:\(receiver.port)/hooks/khactl", ["--webhook-ca-file", receiver.caFile])
            #expect(delivered.status == 0, "\(delivered.stderr)")
            let requests = receiver.requests
            #expect(requests.count == 2, "\(requests)")
            #expect(requests.allSatisfy { $0["target"] as? String == "/hooks/khactl" && $0["authorization"] as? String == "Bearer \(secret.token)" })
            #expect(requests.compactMap { $0["body"] as? String } == delivered.stdoutLines)
            let deliveredCounts = try Self.summary(in: delivered.stderr)
            #expect(deliveredCounts.delivered == 2 && deliveredCounts.failed == 0)
            // The system's trust store does not know the test CA.
            for (url, extra) in [("https://127.0.0.1:\(receiver.port)/hooks/khactl", [String]())] {
                let refused = try watch(url, extra)
                #expect(refused.status == 0, "\(refused.stderr)")
                #expect(refused.stderr.contains("TLS with") && refused.stderr.contains("failed"), "\(refused.stderr)")
                let counts = try Self.summary(in: refused.stderr)
                // Failed at once, not retried; an event still queued when --count ended the watch is abandoned.
                #expect(counts.received == 2 && counts.delivered == 0 && counts.failed >= 1 && counts.failed + counts.abandoned == 2, "\(refused.stderr)")
                #expect(counts.retries == 0, "\(refused.stderr)")
                #expect(receiver.requests.count == 2, "a request reached the receiver without a trusted certificate")
                #expect(!refused.stderr.contains(secret.token))
            }
            // A CA file that is not PEM: a clear error before anything starts.
            let bad = try watch("https://127.0.0.1:\(receiver.port)/", ["--webhook-ca-file", secret.path])
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("--webhook-ca-file \(secret.path): not a readable PEM file of CA certificates"), "\(bad.stderr)")
            #expect(!bad.stderr.contains(secret.token))
        }
    }

    @Test("A token given only through KHACTL_WEBHOOK_TOKEN is sent, and never printed")
    func tokenFromEnvironment() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let token = "env-" + UUID().uuidString
        try await withCorosync { node in
            let result = try runKhactl(
                ["watch", "--output", "json", "--count", "2", "--sink", "webhook:\(receiver.url)/", "--log-level", "trace", "--netns", node.namespacePath],
                environment: ["KHACTL_WEBHOOK_TOKEN": token])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            // Only the webhook is a sink: nothing on stdout.
            #expect(result.stdout.isEmpty)
            let requests = receiver.requests
            #expect(requests.count == 2)
            #expect(requests.allSatisfy { $0.headers["authorization"] == "Bearer \(token)" })
            #expect(!result.stderr.contains(token))
            let counts = try Self.summary(in: result.stderr)
            #expect(counts.received == 2 && counts.delivered == 2)
        }
    }

    @Test("Receiver down: intake and stdout go on, the queue stays bounded, drops are counted, SIGTERM exits 0")
    func receiverDown() async throws {
        try await withCorosync { node in
            let deadPort = try LoopbackHTTP.freePort()
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-webhook-down-\(UUID().uuidString.prefix(8)).log").path
            defer { try? FileManager.default.removeItem(atPath: log) }
            let khactl = productsDirectory.appendingPathComponent("khactl").path
            let watcher = try ChildProcess.spawn(
                khactl,
                [
                    "watch", "--output", "json", "--sink", "stdout", "--sink", "webhook:http://127.0.0.1:\(deadPort)/",
                    "--sink-queue", "4", "--webhook-attempts", "2", "--flush-timeout", "1", "--log-level", "info",
                    "--netns", node.namespacePath,
                ],
                log: log)
            defer { watcher.terminate(grace: 1) }
            func events() -> [String] {
                ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init).filter { $0.hasPrefix("{") }
            }
            try await waitUntil("the first 3 events on stdout") { events().count >= 3 }

            // 10 CPG members join and leave the watchers' group: 20 more events, in well under a second.
            let started = ContinuousClock.now
            for _ in 0..<10 {
                let member = try CPG(endpoint: node.endpoint, totemChanges: false)
                try member.join(CPGGroupName("khactl-watch"))
                member.close()
            }
            try await waitUntil("23 events on stdout") { events().count >= 23 }
            // stdout kept up while every webhook attempt failed: intake never waited for the sink.
            #expect(ContinuousClock.now - started < .seconds(3))

            let signalled = ContinuousClock.now
            #expect(kill(watcher.pid, SIGTERM) == 0)
            let status = waitForExit(watcher.pid, timeout: .seconds(10))
            #expect(status == 0)
            #expect(ContinuousClock.now - signalled < .seconds(3), "shutdown took \(ContinuousClock.now - signalled)")

            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let counts = try Self.summary(in: text)
            #expect(counts.received == events().count)
            #expect(counts.delivered == 0)
            #expect(counts.dropped > 0)
            // Every event is accounted for once; at most the queue (4) and the one in flight were left.
            #expect(counts.received == counts.delivered + counts.failed + counts.dropped + counts.abandoned)
            #expect(counts.abandoned <= 5)
            #expect(counts.dropped >= counts.received - counts.failed - 5)
            // Drops were logged as they happened (the 1st, 2nd, 4th, ...), not only in the summary.
            #expect(text.contains("queue full (4 events): dropped the oldest event, 1 dropped so far"))
            #expect(text.contains("event not delivered after 2 attempt(s): cannot connect to 127.0.0.1:\(deadPort): Connection refused"))
        }
    }

    @Test("In a 3-node lab: a node crash reaches the webhook and an alert agent (which never sees the token); SIGTERM exits 0 at once")
    func labCrashAndSIGTERM() async throws {
        let root = try LabTests.LabRoot()
        defer {
            _ = try? root.run(["lab", "down", "--name", "hook"])
            root.remove()
        }
        let up = try root.run(["lab", "up", "--name", "hook", "--nodes", "3"], timeout: 180)
        #expect(up.status == 0, "lab up: \(up.stderr)")
        // The receiver listens on 127.0.0.1 of node1's own network namespace, where the watcher runs.
        let lab = try Lab(name: "hook", root: URL(fileURLWithPath: root.path))
        let receiver = try WebhookReceiver(networkNamespace: try lab.networkNamespace(of: 1))
        defer { receiver.stop() }

        // An alert agent that records its environment (the lab's /tmp is the host's).
        let agent = "\(root.path)/env-agent.sh"
        let agentLog = "\(root.path)/agent-env.log"
        try "#!/bin/sh\nenv >> \"$CRM_alert_recipient\"\necho ---- >> \"$CRM_alert_recipient\"\n".write(
            toFile: agent, atomically: true, encoding: .utf8)
        chmod(agent, 0o755)
        let token = "lab-" + UUID().uuidString
        let log = "\(root.path)/watch.log"
        let khactl = productsDirectory.appendingPathComponent("khactl").path
        let watcher = try ChildProcess.spawn(
            khactl,
            [
                "lab", "exec", "--name", "hook", "node1", "--", khactl, "watch", "--output", "json", "--sink", "stdout",
                "--sink", "webhook:\(receiver.url)/cluster", "--sink", "exec:\(agent)", "--recipient", agentLog,
                "--flush-timeout", "3", "--log-level", "info",
            ],
            log: log, environment: root.environment.merging(["KHACTL_WEBHOOK_TOKEN": token]) { _, new in new })
        defer { watcher.terminate(grace: 1) }
        try await receiver.wait(for: "the first events") { $0.count >= 3 }

        #expect(try root.run(["lab", "kill", "--name", "hook", "node3", "--mode", "crash"]).status == 0)
        let requests = try await receiver.wait(for: "node3 leaving", timeout: .seconds(30)) { requests in
            requests.contains { $0.json?["kind"] as? String == "membership" && $0.json?["left"] as? [Int] == [3] }
        }
        let left = try #require(requests.first { $0.json?["left"] as? [Int] == [3] })
        #expect(left.json?["members"] as? [Int] == [1, 2])
        #expect(left.headers["authorization"] == "Bearer \(token)")
        try await waitUntil("the alert agent's run") {
            ((try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? "").contains("CRM_alert_desc=lost")
        }
        let agentEnvironment = try String(contentsOfFile: agentLog, encoding: .utf8)
        #expect(agentEnvironment.contains("CRM_alert_node=node3"))
        #expect(!agentEnvironment.contains("KHACTL_WEBHOOK_TOKEN") && !agentEnvironment.contains(token))

        // SIGTERM to khactl watch itself (nsenter's child inside the node): intake stops, the sinks have
        // nothing left, the summary is printed, exit 0; nsenter passes the status on.
        let watchPID = try #require(watcher.identity.children.first, "nsenter has no child")
        let signalled = ContinuousClock.now
        #expect(kill(watchPID, SIGTERM) == 0)
        let exit = waitForExit(watcher.pid, timeout: .seconds(10))
        let took = ContinuousClock.now - signalled
        #expect(exit == 0)
        #expect(took < .seconds(2), "shutdown took \(took)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("event intake stopped"))
        let summaries = text.matches(of: Self.summaryPattern).map { String($0.1) }
        #expect(summaries == ["webhook:\(receiver.url)/cluster", "exec:\(agent)"])
        let counts = try Self.summary(in: text)
        #expect(counts.received == receiver.requests.count && counts.delivered == counts.received)
        #expect(counts.dropped == 0 && counts.failed == 0 && counts.abandoned == 0)
        #expect(!text.contains(token))
    }

    @Test("The systemd unit: after corosync and pacemaker, restart on failure, token as a credential; its ExecStart runs, posts with the token, stops cleanly on SIGTERM")
    func systemdUnit() async throws {
        let unitPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scripts/systemd/khactl-watch.service").standardized.path
        let text = try String(contentsOfFile: unitPath, encoding: .utf8)
        let lines = text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
        func values(_ key: String) -> [String] { lines.filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) } }
        #expect(values("After") == ["corosync.service pacemaker.service"])
        #expect(values("Type") == ["exec"])
        #expect(values("Restart") == ["on-failure"])
        #expect(values("KillSignal") == ["SIGTERM"])
        #expect(values("LoadCredential") == ["webhook-token:/etc/khactl/webhook-token"])
        #expect(values("RuntimeDirectory") == ["khactl"], "--alerts binds /run/khactl/alerts.sock")
        let exec = try #require(values("ExecStart").first).split(separator: " ").map(String.init)
        #expect(exec.first == "/usr/local/sbin/khactl")
        #expect(exec.contains("--alerts"))
        #expect(!exec.contains { $0.contains("Bearer") || $0.hasPrefix("KHACTL_WEBHOOK_TOKEN") })

        // What systemd and the admin fill in: %d (the credentials folder) and the receiver's URL.
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let credentials = try Self.tokenFile(named: "webhook-token")
        defer { try? FileManager.default.removeItem(atPath: credentials.folder) }
        let arguments = exec.dropFirst().map {
            $0.replacingOccurrences(of: "%d", with: credentials.folder).replacingOccurrences(of: "http://127.0.0.1:9000", with: receiver.url)
        }
        try await withCorosync { node in
            let log = "\(credentials.folder)/watch.log"
            let watcher = try ChildProcess.spawn(
                productsDirectory.appendingPathComponent("khactl").path,
                // The alert socket in the test's folder, not the host's /run.
                arguments + [
                    "--netns", node.namespacePath, "--alert-socket", "\(credentials.folder)/alerts.sock",
                    "--authkey", node.scratch.appendingPathComponent("etc/authkey").path,
                ], log: log)
            defer { watcher.terminate(grace: 1) }
            // membership, quorum and the watcher's own join, emitted by the only (so leading) watcher.
            let requests = try await receiver.wait(for: "the first 3 events") { $0.count >= 3 }
            #expect(requests.allSatisfy { $0.target == "/khactl-events" && $0.headers["authorization"] == "Bearer \(credentials.token)" })
            #expect(kill(watcher.pid, SIGTERM) == 0)
            #expect(waitForExit(watcher.pid, timeout: .seconds(8)) == 0)
            let output = try String(contentsOfFile: log, encoding: .utf8)
            let counts = try Self.summary(in: output)
            #expect(counts.received == 3 && counts.delivered == 3 && counts.dropped == 0)
            #expect(output.contains("info khactl.watch"))
            #expect(!output.contains(credentials.token))
        }
    }

    @Test(
        "Bad webhook arguments: a clear message, non-zero exit, nothing started",
        arguments: [
            (["--sink", "webhook:notaurl"], "webhook URL \"notaurl\" is not an http:// or https:// URL"),
            (["--sink", "webhook:ftp://example.com/hook"], "scheme ftp is not supported; use https:// or http://"),
            (["--sink", "webhook:http://"], "names no host"),
            (["--sink", "webhook:http://alice:hunter2@127.0.0.1/"], "carries credentials"),
            (["--sink", "webhook:http://127.0.0.1:9/", "--webhook-token-file", "/nonexistent/token"],
             "cannot read the webhook token file /nonexistent/token: No such file or directory"),
            (["--webhook-token-file", "/etc/hostname"], "--webhook-token-file needs a --sink webhook:URL"),
            (["--sink", "webhook:http://127.0.0.1:9/", "--sink-queue", "0"], "--sink-queue must be at least 1"),
            (["--sink", "webhook:http://127.0.0.1:9/", "--webhook-attempts", "0"], "--webhook-attempts must be at least 1"),
        ])
    func badArguments(arguments: [String], message: String) throws {
        let result = try runKhactl(["watch"] + arguments)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("hunter2"))
    }

    @Test("A token that could split a header is refused without being printed")
    func tokenWithLineBreak() throws {
        let secret = try Self.tokenFile()
        defer { try? FileManager.default.removeItem(atPath: secret.folder) }
        try Data("\(secret.token)\r\nX-Injected: 1\n".utf8).write(to: URL(fileURLWithPath: secret.path))
        let result = try runKhactl(["watch", "--sink", "webhook:http://127.0.0.1:9/", "--webhook-token-file", secret.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("contains spaces, line breaks or non-ASCII characters"), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains(secret.token))
    }

    @Test("A slow receiver never makes deliver() wait; overflow drops the oldest, counted exactly")
    func slowReceiverInProcess() async throws {
        let receiver = try WebhookReceiver(delay: .seconds(2))
        defer { receiver.stop() }
        let sink = try WebhookSink(
            target: try WebhookTarget(parsing: "\(receiver.url)/"), token: nil, capacity: 8,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let record = WatchRecord(.disconnected(reason: "test"), node: NodeID(1))
        let started = ContinuousClock.now
        for _ in 0..<100 { sink.deliver(record) }
        // Not a timing bound (benchmarks report timings): waiting for even one request would take the receiver's 2 s.
        #expect(ContinuousClock.now - started < .seconds(2), "100 deliveries took \(ContinuousClock.now - started)")
        let summary = await sink.finish(within: .milliseconds(300))
        // The in-flight request is cancelled at the deadline, not delivered.
        #expect(summary.received == 100)
        #expect(summary.delivered == 0)
        // 8 queued; the worker had taken at most one before the queue filled.
        #expect((91...92).contains(summary.dropped), "dropped \(summary.dropped)")
        #expect(summary.abandoned == 100 - summary.dropped)
    }

    @Test("Backoff: ceilings double up to the maximum, each pause lies in [ceiling/2, ceiling]")
    func backoff() {
        let policy = RetryPolicy(attempts: 6, baseDelay: .milliseconds(250), maximumDelay: .seconds(1))
        #expect((1...5).map { policy.ceiling(after: $0) } == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(1), .seconds(1)])
        for attempt in 1...5 {
            let ceiling = policy.ceiling(after: attempt)
            #expect(policy.delay(after: attempt, unit: 0) == ceiling / 2)
            #expect(policy.delay(after: attempt, unit: 1) == ceiling)
            let drawn = policy.delay(after: attempt)
            #expect(drawn >= ceiling / 2 && drawn <= ceiling)
        }
        #expect(WebhookSink.isRetryable(status: 503) && WebhookSink.isRetryable(status: 429) && WebhookSink.isRetryable(status: 408))
        #expect(!WebhookSink.isRetryable(status: 401) && !WebhookSink.isRetryable(status: 301) && !WebhookSink.isRetryable(status: 200))
    }

    @Test(
        "URL parsing: host, port, request target, Host header; logs leave the query out",
        arguments: [
            ("http://127.0.0.1:8080/events", "127.0.0.1", 8080, "/events", "127.0.0.1:8080", "http://127.0.0.1:8080/events"),
            ("http://alerts.example/a/b?key=s3cret", "alerts.example", 80, "/a/b?key=s3cret", "alerts.example", "http://alerts.example:80/a/b"),
            ("HTTP://[::1]:9000", "::1", 9000, "/", "[::1]:9000", "http://[::1]:9000/"),
        ])
    func urlParsing(text: String, host: String, port: Int, target: String, hostHeader: String, shown: String) throws {
        let parsed = try WebhookTarget(parsing: text)
        #expect(parsed.host == host)
        #expect(Int(parsed.port) == port)
        #expect(parsed.requestTarget == target)
        #expect(parsed.hostHeader == hostHeader)
        #expect(parsed.description == shown)
    }
}

/// Waits until `condition` holds, or throws after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestSetupError("timed out after \(timeout) waiting for \(what)")
}

/// Waits up to `timeout` for the child `pid` to exit and reaps it; returns its exit status, or 128 + the
/// signal that killed it, or nil if it still runs.
func waitForExit(_ pid: pid_t, timeout: Duration) -> Int32? {
    let deadline = ContinuousClock.now + timeout
    var status: Int32 = 0
    while ContinuousClock.now < deadline {
        if waitpid(pid, &status, WNOHANG) == pid {
            return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
        usleep(5_000)
    }
    return nil
}

extension FileHandle {
    /// Bytes up to and including the first newline (or what there is at end of file).
    fileprivate func availableDataOrLine() -> Data {
        var data = Data()
        while true {
            let byte = readData(ofLength: 1)
            if byte.isEmpty { return data }
            data.append(byte)
            if byte.first == 0x0a { return data }
        }
    }
}
