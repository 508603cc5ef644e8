import ClusterExec
import Foundation
@testable import KhactlCore
import Pacemaker
import Testing
import TestSupport

/// The attacks of the security review, each tried from a second, unprivileged account (`setpriv`), and shown to
/// fail: forged alerts, folders planted where root cleans up, secret files read while being written, links
/// planted where root writes, secrets on pcs's command line, and the smaller input checks.
@Suite("security: attacks from an unprivileged account", .serialized)
struct SecurityTests {
    /// A folder of the test's own that every user may enter (so the unprivileged account can reach what it
    /// attacks), removed afterwards.
    struct Scratch {
        let path: String
        init() throws {
            try TestCorosync.requireRootAndNamespaces()
            path = "/tmp/khactl-security-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Runs `argv` as `user` (with `group`, no supplementary groups).
    static func runAs(_ user: String, group: String, _ argv: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try runTool("/usr/bin/setpriv", ["--reuid", user, "--regid", group, "--clear-groups", "--"] + argv, timeout: timeout)
    }

    /// Python that sends `count` datagrams of `payload` to the socket at `path`.
    static func sender(_ path: String, payload: String, count: Int = 1) -> [String] {
        [
            "/usr/bin/python3", "-c",
            "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\nfor _ in range(\(count)):\n    try: s.sendto(sys.argv[2].encode(), sys.argv[1])\n    except OSError: pass\n",
            path, payload,
        ]
    }

    final class Received: Sendable {
        let alerts = Mutex2<[PacemakerAlert]>([])
        let refusals = Mutex2<[String]>([])
        func add(_ alert: PacemakerAlert) { alerts.set(alerts.value + [alert]) }
        func refuse(_ line: String) { refusals.set(refusals.value + [line]) }
    }

    @Test("finding 1: a forged alert datagram from a haclient member is refused and logged; hacluster's carries only CRM_alert_* variables; a flood is rate-limited")
    func forgedAlerts() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let received = Received()
        let path = "\(scratch.path)/alerts/alerts.sock"
        let socket = try AlertSocket(path: path, handler: { received.add($0) }, refused: { received.refuse($0) })
        defer { socket.close() }
        chmod("\(scratch.path)/alerts", 0o755)
        let forged = #"{"environment":{"CRM_alert_kind":"node","CRM_alert_node":"node3","CRM_alert_desc":"lost","LD_PRELOAD":"/tmp/evil.so","PATH":"/tmp/evil"},"from":"node1"}"#
        // A member of haclient (group write on the socket) that is not hacluster.
        let attacker = try Self.runAs("nobody", group: "haclient", Self.sender(path, payload: forged))
        #expect(attacker.status == 0, "\(attacker.stderr)")
        usleep(300_000)
        #expect(received.alerts.value.isEmpty, "a forged alert was taken: \(received.alerts.value)")
        let uid = getpwnam("nobody")!.pointee.pw_uid
        #expect(received.refusals.value.first?.hasPrefix("alert datagram from uid \(uid) (pid ") == true, "\(received.refusals.value)")
        #expect(received.refusals.value.first?.hasSuffix("refused: only root and hacluster may send alerts (1 refused so far)") == true)
        // hacluster (as whom Pacemaker runs alert agents) is heard, but nothing but CRM_alert_* survives decoding.
        let agent = try Self.runAs("hacluster", group: "haclient", Self.sender(path, payload: forged))
        #expect(agent.status == 0, "\(agent.stderr)")
        usleep(300_000)
        let alert = try #require(received.alerts.value.first)
        #expect(alert.environment == ["CRM_alert_kind": "node", "CRM_alert_node": "node3", "CRM_alert_desc": "lost"])
        let agentEnvironment = try #require(AlertAgentSink.alerts(for: .alert(alert), names: [:]).first)
        #expect(agentEnvironment.keys.sorted() == ["CRM_alert_desc", "CRM_alert_kind", "CRM_alert_node"])
        // A flood from root: at most the burst plus the rate for the time it took; memory does not grow with it.
        let start = Date()
        let argv = Self.sender(path, payload: forged, count: 20_000)
        let flood = try runTool(argv[0], Array(argv.dropFirst()))
        #expect(flood.status == 0)
        usleep(500_000)
        let seconds = Date().timeIntervalSince(start)
        let taken = received.alerts.value.count - 1
        #expect(taken <= Int(2 * AlertSocket.rate + AlertSocket.rate * seconds) + 1, "\(taken) alerts taken in \(seconds) s")
        #expect(taken >= Int(AlertSocket.rate), "the burst was not taken: \(taken)")
        // Refusals are logged on the 1st, 2nd, 4th, ... one: a handful of lines for thousands of drops.
        #expect(received.refusals.value.count < 20, "\(received.refusals.value.count) log lines")
    }

    @Test("finding 1: an alert multicast into the watchers' group without the cluster's key is refused and logged; a relayed one is taken")
    func forgedRelayedAlert() async throws {
        try await withCorosync { node in
            let scratch = try Scratch()
            defer { scratch.remove() }
            let log = "\(scratch.path)/watch.log"
            let watcher = try ChildProcess.spawn(
                productsDirectory.appendingPathComponent("khactl").path,
                [
                    "watch", "--alerts", "--output", "json", "--netns", node.namespacePath, "--alert-socket", "\(scratch.path)/alerts.sock",
                    "--authkey", node.scratch.appendingPathComponent("etc/authkey").path,
                ], log: log)
            defer { watcher.terminate(grace: 1) }
            func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
            func wait(_ what: String, _ condition: () -> Bool) throws {
                for _ in 0..<100 where !condition() { usleep(100_000) }
                guard condition() else { throw TestSetupError("timed out waiting for \(what): \(logText())") }
            }
            try wait("the watcher's join") { logText().contains(#""kind":"cpg""#) }
            // A genuine alert, as Pacemaker's agent (root here) sends it: relayed through the group, authenticated.
            let genuine = #"{"environment":{"CRM_alert_kind":"node","CRM_alert_node":"genuine","CRM_alert_desc":"lost"},"from":"alpha"}"#
            #expect(try runTool(Self.sender("\(scratch.path)/alerts.sock", payload: genuine)[0], Array(Self.sender("\(scratch.path)/alerts.sock", payload: genuine).dropFirst())).status == 0)
            try wait("the genuine alert") { logText().contains(#""target":"genuine""#) }
            // A member without the key multicasts a well-formed alert of the old, unauthenticated format.
            let forged = #"{"environment":{"CRM_alert_kind":"fencing","CRM_alert_node":"forged","CRM_alert_desc":"off"},"from":"alpha"}"#
            let peer = try runTool(
                "/usr/bin/timeout", ["3", productsDirectory.appendingPathComponent("cpg-peer").path, node.namespacePath, "khactl-watch", forged, "1", "2"],
                environment: ["CPG_PEER_RAW": "1"])
            #expect(peer.stdout.contains("ready"), "\(peer.stderr)")
            try wait("the refusal") { logText().contains("was refused: not an alert or announcement authenticated with the cluster's key (1 refused so far)") }
            #expect(!logText().contains(#""target":"forged""#), "a forged alert was emitted: \(logText())")
            #expect(logText().components(separatedBy: #""target":"genuine""#).count == 2, "the genuine alert once: \(logText())")
        }
    }

    @Test("finding 1: a member without the key that joined first, with a lower pid, never takes --leader-only leadership")
    func unauthenticatedLeader() async throws {
        try await withCorosync { node in
            let scratch = try Scratch()
            defer { scratch.remove() }
            let peer = productsDirectory.appendingPathComponent("cpg-peer").path
            // The intruder joins the group first (so it has the lowest pid of the group on the only node) and
            // stays; it sends nothing, as a member without the key can do nothing better.
            let intruder = try ChildProcess.spawn(peer, [node.namespacePath, "khactl-watch", "intruder", "0", "1"], log: "\(scratch.path)/intruder.log")
            defer { intruder.terminate(grace: 1) }
            for _ in 0..<100 where !((try? String(contentsOfFile: "\(scratch.path)/intruder.log", encoding: .utf8)) ?? "").contains("confchg") {
                usleep(50_000)
            }
            let log = "\(scratch.path)/watch.log"
            let watcher = try ChildProcess.spawn(
                productsDirectory.appendingPathComponent("khactl").path,
                [
                    "watch", "--leader-only", "--output", "json", "--log-level", "info", "--netns", node.namespacePath,
                    "--authkey", node.scratch.appendingPathComponent("etc/authkey").path,
                ], log: log)
            defer { watcher.terminate(grace: 1) }
            #expect(intruder.pid < watcher.pid)
            func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
            // A second watcher-less member joins after the newcomer's settle time: the real watcher leads and
            // emits that change (before the fix the intruder led and the watcher printed nothing).
            try await Task.sleep(for: LeaderFilter.settleTime + .milliseconds(500))
            let second = try ChildProcess.spawn(peer, [node.namespacePath, "khactl-watch", "second", "0", "1"], log: "\(scratch.path)/second.log")
            defer { second.terminate(grace: 1) }
            for _ in 0..<100 where !logText().contains(#""joined":[{"nodeID":1,"pid":\#(second.pid)"#) { usleep(100_000) }
            #expect(logText().contains(#""joined":[{"nodeID":1,"pid":\#(second.pid)"#), "the watcher did not emit the second join: \(logText())")
            #expect(logText().contains("this watcher leads: it emits events"), "\(logText())")
            #expect(
                logText().contains("members of the watchers' group that did not prove they hold the cluster's key never lead: 1:\(intruder.pid)"),
                "\(logText())")
        }
    }

    @Test("finding 2: a folder planted in /tmp by nobody, and a link planted in khactl's own folder, survive root's apply")
    func plantedFolders() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let planted = "/tmp/khactl-apply-planted\(UUID().uuidString.prefix(6))"
        let made = try Self.runAs("nobody", group: "nogroup", ["sh", "-c", "mkdir -m 700 \"$0\" && touch \"$0/.lock\"", planted])
        #expect(made.status == 0, "\(made.stderr)")
        defer { try? FileManager.default.removeItem(atPath: planted) }
        // A folder another program keeps, and a link to it planted among khactl's workspaces (as a swap would).
        let victim = "\(scratch.path)/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: "\(victim)/keep", contents: Data("x".utf8)))
        let folder = try PrivateFolder.runtime("apply")
        let link = "\(folder.path)/khactl-apply-link\(UUID().uuidString.prefix(6))"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        defer { unlink(link) }
        let cib = try CIBFile()
        defer { cib.remove() }
        let spec = "\(scratch.path)/spec.yaml"
        try "resources:\n  - {id: a, agent: \"ocf:pacemaker:Dummy\"}\n".write(toFile: spec, atomically: true, encoding: .utf8)
        let apply = try runKhactl(["apply", "-f", spec, "--cib-file", cib.path])
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(planted)/.lock"), "root removed a folder nobody planted")
        #expect(FileManager.default.fileExists(atPath: "\(victim)/keep"), "root followed a planted link")
        #expect(FileManager.default.destinationOfSymbolicLinkOrNil(link) == victim)
        // khactl's own folder: root's, 0700.
        var info = stat()
        #expect(lstat(folder.path, &info) == 0 && info.st_uid == 0 && info.st_mode & 0o777 == 0o700)
    }

    @Test("finding 3: an unprivileged reader opening files in a loop never gets a descriptor to a secret being written")
    func secretWindow() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let script = """
            import os, sys, time
            folder, seconds = sys.argv[1], float(sys.argv[2])
            opened = tries = 0
            end = time.time() + seconds
            while time.time() < end:
                for name in os.listdir(folder):
                    tries += 1
                    try:
                        os.close(os.open(os.path.join(folder, name), os.O_RDONLY)); opened += 1
                    except OSError:
                        pass
            print(opened, tries)
            """
        let reader = try startProcess("/usr/bin/setpriv", ["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--", "/usr/bin/python3", "-c", script, scratch.path, "4"])
        // Root writes secrets over and over meanwhile: authkeys (keygen) and 0400 files through the one writer.
        for round in 0..<60 {
            _ = try runKhactl(["keygen", "\(scratch.path)/authkey", "--force"])
            try SecureFile.write("\(scratch.path)/password", Data("secret-\(round)".utf8), mode: 0o400)
        }
        let output = try reader.finish(timeout: 30)
        let counts = output.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(counts.count == 2 && counts[0] == 0 && counts[1] > 100, "opened, tries: \(output.stdout) \(output.stderr)")
    }

    @Test("finding 4: links planted in place of a daemon's log file or of cib.xml are not followed")
    func plantedLinks() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let target = "\(scratch.path)/shadow-like"
        #expect(FileManager.default.createFile(atPath: target, contents: Data("root's\n".utf8), attributes: [.posixPermissions: 0o600]))
        let log = "\(scratch.path)/pacemakerd.out"
        try FileManager.default.createSymbolicLink(atPath: log, withDestinationPath: target)
        #expect(throws: CommandError.self) { try Daemon.spawn(Command("/bin/echo", ["appended"]), log: log) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "root's\n")
        // cib.xml's owner is changed through a descriptor that refuses links.
        let cib = "\(scratch.path)/cib.xml"
        try FileManager.default.createSymbolicLink(atPath: cib, withDestinationPath: target)
        #expect(throws: SecureFileError.self) { try SecureFile.changeOwner(cib, uid: 65534, gid: 65534) }
        var info = stat()
        #expect(stat(target, &info) == 0 && info.st_uid == 0)
        // The one writer refuses a link in place of its folder's temporary name and never writes through one.
        #expect(throws: SecureFileError.self) { try SecureFile.write("\(scratch.path)/no-such-folder/file", Data(), mode: 0o600) }
        try SecureFile.write(log, Data("new\n".utf8), mode: 0o600)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "root's\n", "the writer wrote through a link")
    }

    @Test("finding 5: --via pcs never puts a secret parameter on a command line, nor in any output")
    func pcsRouteSecrets() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let cib = try CIBFile()
        defer { cib.remove() }
        let secret = "s3cret-\(UUID().uuidString.prefix(8))"
        let spec = "\(scratch.path)/spec.yaml"
        try """
            resources:
              - {id: fence-a, agent: "stonith:fence_redfish", params: {ip: 198.18.0.211, username: admin, password: \(secret), pcmk_host_list: a}}
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let seen = Mutex2<[String]>([])
        let running = Mutex2(true)
        let sampler = Thread {
            while running.value {
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
                    if let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty {
                        let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
                        if line.contains("pcs") { seen.set(seen.value + [line]) }
                    }
                }
                usleep(2_000)
            }
        }
        sampler.start()
        let apply = try runKhactl(["apply", "-f", spec, "--cib-file", cib.path, "--via", "pcs"], timeout: 120)
        running.set(false)
        usleep(50_000)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(seen.value.contains { $0.contains("stonith create") || $0.contains("resource create") }, "no pcs command was sampled")
        #expect(!seen.value.contains { $0.contains(secret) }, "the secret was on a command line")
        #expect(!(apply.stdout + apply.stderr).contains(secret))
        // The device still gets its real password, through the file.
        #expect(cib.text.contains(#"name="password" value="\#(secret)""#))
        #expect(!cib.text.contains("khactl-secret-placeholder"))
    }

    @Test("finding 6: a cluster name starting with '-', password files that are links, not root's or readable by others, a bad dc-deadtime")
    func smallerChecks() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let good = "\(scratch.path)/good.bmc"
        #expect(FileManager.default.createFile(atPath: good, contents: Data("pw\n".utf8), attributes: [.posixPermissions: 0o600]))
        let open = "\(scratch.path)/open.bmc"
        #expect(FileManager.default.createFile(atPath: open, contents: Data("pw\n".utf8), attributes: [.posixPermissions: 0o644]))
        let theirs = "\(scratch.path)/theirs.bmc"
        #expect(FileManager.default.createFile(atPath: theirs, contents: Data("pw\n".utf8), attributes: [.posixPermissions: 0o600]))
        chown(theirs, 65534, 65534)
        let link = "\(scratch.path)/link.bmc"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/etc/shadow")
        func spec(name: String = "k8s", password: String, extra: String = "") -> String {
            """
            cluster:
              name: \(name)\(extra)
              nodes:
                - {name: cp1, addresses: [198.18.0.11], fence: {agent: fence_redfish, ip: 198.18.0.211, username: admin, password-file: \(password)}}
                - {name: cp2, addresses: [198.18.0.12], fence: {agent: fence_redfish, ip: 198.18.0.212, username: admin, password-file: \(good)}}
            profile:
              kubernetes-control-plane: {vips: [198.18.0.100]}
            """
        }
        #expect(throws: Never.self) { _ = try DeploymentSpec.parse(spec(password: good)) }
        let cases: [(String, String)] = [
            (spec(name: "-oops", password: good), "'-oops' is not a cluster name (1-32 letters, digits, '-' or '_', not starting with '-')"),
            (spec(password: open), "the password file \(open): has mode 644; a secret file must be 0600 or narrower (chmod 600)"),
            (spec(password: theirs), "the password file \(theirs): is owned by uid 65534, not root"),
            (spec(password: link), "the password file \(link): is a symbolic link; give the file itself"),
            (spec(password: good, extra: "\n  dc-deadtime: soon"), "'soon' is not a duration (e.g. 2s, 500ms, 1min)"),
        ]
        for (text, message) in cases {
            do {
                _ = try DeploymentSpec.parse(text, file: "bad.yaml")
                Issue.record("accepted: \(message)")
            } catch let error as SpecLoadError {
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }

    @Test("finding 6: CIB_file from the caller's environment does not redirect an apply; a process named corosync run by nobody is not corosync")
    func environmentAndProcesses() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let decoy = try CIBFile()
        defer { decoy.remove() }
        let epoch = decoy.epoch
        let spec = "\(scratch.path)/spec.yaml"
        try "resources:\n  - {id: a, agent: \"ocf:pacemaker:Dummy\"}\n".write(toFile: spec, atomically: true, encoding: .utf8)
        // No cluster runs on the test host: without the decoy the apply must fail, and the decoy stays as it was.
        let apply = try runKhactl(["apply", "-f", spec], environment: ["CIB_file": decoy.path, "CIB_shadow": "decoy"])
        #expect(apply.status == 1, "\(apply.stdout) \(apply.stderr)")
        #expect(decoy.epoch == epoch, "the apply wrote to CIB_file from its environment")
        // A process with a daemon's name, run by nobody, does not make bootstrap think the daemon runs (a name of
        // the test's own, so that a corosync another test started does not count).
        let fake = "\(scratch.path)/khfakecorosync"
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: fake)
        let impostor = try startProcess("/usr/bin/setpriv", ["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--", fake, "5"])
        usleep(300_000)
        #expect(Bootstrap.running("khfakecorosync") == false)
        _ = try? impostor.finish(timeout: 10)
        let genuine = try startProcess(fake, ["2"])
        usleep(300_000)
        #expect(Bootstrap.running("khfakecorosync") == true)
        _ = try? genuine.finish(timeout: 10)
    }
}

/// A tool run to completion on a thread of its own, while the test goes on.
final class BackgroundTool: Sendable {
    private let result = Mutex2<CommandResult?>(nil)

    init(_ executable: String, _ arguments: [String]) {
        let result = self.result
        Thread { result.set(try? runTool(executable, arguments, timeout: 120)) }.start()
    }

    /// Waits for the tool; throws when it did not finish within `timeout` seconds or could not run.
    func finish(timeout: TimeInterval) throws -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while !result.isSet && Date() < deadline { usleep(10_000) }
        guard let value = result.value else { throw TestSetupError("a background tool did not finish") }
        return value
    }
}

func startProcess(_ executable: String, _ arguments: [String]) throws -> BackgroundTool {
    BackgroundTool(executable, arguments)
}

extension FileManager {
    fileprivate func destinationOfSymbolicLinkOrNil(_ path: String) -> String? { try? destinationOfSymbolicLink(atPath: path) }
}
