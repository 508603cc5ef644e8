import Foundation
import KhactlCore
import Pacemaker
import Testing
import TestSupport

/// The spec's cluster and profile sections, and the seed layouts, without a cluster.
@Suite("bootstrap spec and profile layouts")
struct BootstrapSpecTests {
    /// A folder with BMC password files, removed afterwards.
    struct Secrets {
        let folder: String
        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-secrets-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for index in 1...3 {
                // Secret files must be root's with mode 0600 or narrower.
                #expect(FileManager.default.createFile(
                    atPath: "\(folder)/cp\(index).bmc", contents: Data("pw\(index)\n".utf8), attributes: [.posixPermissions: 0o600]))
            }
        }
        func remove() { try? FileManager.default.removeItem(atPath: folder) }

        func spec(nodes: Int, vips: [String], extra: String = "") -> String {
            var text = "cluster:\n  name: k8s-cp\n  nodes:\n"
            for index in 1...nodes {
                text += "    - {name: cp\(index), addresses: [198.18.0.1\(index)], fence: {agent: fence_redfish, ip: 198.18.0.21\(index), username: admin, password-file: \(folder)/cp\(index).bmc}}\n"
            }
            text += "profile:\n  kubernetes-control-plane:\n    vips: [\(vips.joined(separator: ", "))]\n" + extra
            return text
        }
    }

    static func constraints(_ configuration: Configuration) -> [String] {
        CIBRenderer.renderConfiguration(configuration).split(separator: "\n")
            .filter { $0.contains("<rsc_order") || $0.contains("<rsc_colocation") }
            .compactMap { $0.firstMatch(of: #/id="([^"]+)"/#).map { String($0.output.1) } }
    }

    @Test("a pair with one VIP: two_node, fence delay on one node, passwords only as password_script")
    func pair() throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        let deployment = try DeploymentSpec.parse(secrets.spec(nodes: 2, vips: ["198.18.0.100"]))
        let cluster = try #require(deployment.cluster)
        let config = cluster.corosyncConfig.render()
        #expect(config.contains("two_node: 1"))
        #expect(config.contains("token: 500") && config.contains("consensus: 600") && config.contains("token_coefficient: 0"))
        #expect(config.contains("crypto_cipher: aes256") && config.contains("crypto_hash: sha256") && config.contains("transport: knet"))
        let xml = CIBRenderer.render(deployment.spec.configuration)
        #expect(!xml.contains("pcmk_delay_base"))
        #expect(xml.components(separatedBy: #"name="priority-fencing-delay""#).count == 2)
        #expect(xml.contains("value=\"cat \(secrets.folder)/cp1.bmc\""))
        #expect(!xml.contains("pw1"), "a password reached the CIB")
        #expect(Self.constraints(deployment.spec.configuration) == [
            "location-fence-cp1-cp1--INFINITY", "location-fence-cp2-cp2--INFINITY",
            "colocation-vip-haproxy-clone-INFINITY", "order-haproxy-clone-vip-Optional",
            "colocation-pair-arbiter-vip--INFINITY", "order-apiserver-clone-control-Optional",
        ].filter { !$0.hasPrefix("location") })
        #expect(Validator.validate(deployment.spec).filter { $0.severity == .error }.isEmpty)
        // The haproxy configuration: the VIP's frontend, both API servers, TLS health checks on /healthz.
        let haproxy = HAProxyConfig.render(profile: try #require(deployment.profile), cluster: cluster)
        #expect(haproxy.contains("bind 198.18.0.100:7443"))
        #expect(haproxy.contains("server cp1 198.18.0.11:6443") && haproxy.contains("server cp2 198.18.0.12:6443"))
        #expect(haproxy.contains("option httpchk GET /healthz") && haproxy.contains("check-ssl"))
        #expect(deployment.profile?.kubeadmInit == "kubeadm init --control-plane-endpoint 198.18.0.100:7443 --upload-certs")
    }

    @Test("a pair with a quorum device: corosync.conf has the device and no two_node, the profile no arbiter; bad devices are refused")
    func quorumDevice() throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        let text = try secrets.spec(nodes: 2, vips: ["198.18.0.100"])
        let deployment = try DeploymentSpec.parse(
            text.replacingOccurrences(of: "cluster:\n", with: "cluster:\n  quorum-device: {host: 198.18.0.10, algorithm: ffsplit}\n"))
        let config = try #require(deployment.cluster).corosyncConfig.render()
        #expect(!config.contains("two_node"))
        #expect(config.contains("""
                quorum {
                    provider: corosync_votequorum
                    device {
                        model: net
                        votes: 1
                        timeout: 3000
                        sync_timeout: 3000
                        net {
                            host: 198.18.0.10
                            port: 5403
                            algorithm: ffsplit
                            tls: on
                        }
                    }
                }
                """))
        let xml = CIBRenderer.render(deployment.spec.configuration)
        #expect(!xml.contains("pair-arbiter") && !xml.contains("priority-fencing-delay"))
        let lms = try DeploymentSpec.parse(
            text.replacingOccurrences(of: "cluster:\n", with: "cluster:\n  quorum-device: {host: witness, algorithm: lms, timeout: 5000}\n"))
        let lmsConfig = try #require(lms.cluster).corosyncConfig.render()
        #expect(!lmsConfig.contains("votes: 1") && lmsConfig.contains("algorithm: lms") && lmsConfig.contains("timeout: 5000"))
        for (device, message) in [
            ("{host: 198.18.0.11}", "198.18.0.11 is a node's address; the witness must be another host"),
            ("{host: 198.18.0.10, algorithm: coinflip}", "'coinflip' is not ffsplit or lms"),
            ("{algorithm: lms}", "missing required key 'host'"),
            ("{host: 198.18.0.10, timeout: 500}", "1250"),
        ] {
            let error = try #require(throws: SpecLoadError.self) {
                try DeploymentSpec.parse(text.replacingOccurrences(of: "cluster:\n", with: "cluster:\n  quorum-device: \(device)\n"))
            }
            #expect(error.issues.contains { $0.message.contains(message) }, "\(device): \(error.issues)")
        }
    }

    @Test("three controllers with two VIPs: no two_node, no fence delay, a colocation and an order per VIP")
    func threeWithTwoVIPs() throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        let deployment = try DeploymentSpec.parse(secrets.spec(nodes: 3, vips: ["198.18.0.100", "198.18.0.101"]))
        #expect(!(deployment.cluster?.corosyncConfig.render().contains("two_node") ?? true))
        let xml = CIBRenderer.render(deployment.spec.configuration)
        #expect(!xml.contains("pcmk_delay_base") && !xml.contains("priority-fencing-delay") && !xml.contains("pair-arbiter"))
        #expect(Self.constraints(deployment.spec.configuration) == [
            "colocation-vip-1-haproxy-clone-INFINITY", "order-haproxy-clone-vip-1-Optional",
            "colocation-vip-2-haproxy-clone-INFINITY", "order-haproxy-clone-vip-2-Optional",
            "order-apiserver-clone-control-Optional",
        ])
        let haproxy = HAProxyConfig.render(profile: try #require(deployment.profile), cluster: try #require(deployment.cluster))
        #expect(haproxy.contains("bind 198.18.0.100:7443") && haproxy.contains("bind 198.18.0.101:7443"))
    }

    @Test("the Red Hat layout: order start VIP then haproxy-clone kind=Optional, VIP with haproxy-clone")
    func redHatLayout() throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        let deployment = try DeploymentSpec.parse(
            secrets.spec(
                nodes: 3, vips: ["198.18.0.100"],
                extra: "    vip-order: vip-first\n    haproxy: {agent: \"systemd:haproxy\"}\n    apiserver: false\n    control-group: false\n"))
        let commands = PCSScript.render(deployment.spec.configuration).map { $0.joined(separator: " ") }
        #expect(commands.contains("pcs constraint order start vip then start haproxy-clone kind=Optional"))
        #expect(commands.contains("pcs constraint colocation add vip with haproxy-clone INFINITY"))
        #expect(!commands.contains { $0.contains("apiserver") || $0.contains("kube-scheduler") })
        #expect(commands.contains("pcs property set transition-delay=300ms"), "\(commands)")
        // transition-delay can be set or left out.
        let without = try DeploymentSpec.parse(secrets.spec(nodes: 3, vips: ["198.18.0.100"], extra: "    transition-delay: \"\"\n"))
        #expect(!CIBRenderer.render(without.spec.configuration).contains("transition-delay"))
    }

    @Test("moving the VIP restarts no haproxy, in either order (crm_simulate on the profile's CIB)", arguments: ["haproxy-first", "vip-first"])
    func vipMoveLeavesHAProxy(order: String) throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        let deployment = try DeploymentSpec.parse(secrets.spec(nodes: 3, vips: ["198.18.0.100"], extra: "    vip-order: \(order)\n"))
        let folder = secrets.folder
        let cib = "\(folder)/cib.xml"
        try CIBRenderer.render(deployment.spec.configuration).write(toFile: cib, atomically: true, encoding: .utf8)
        // Three nodes up with quorum, then the transitions run until everything is started.
        try toolOutput("crm_simulate", ["-x", cib, "-q", "1", "-u", "cp1", "-u", "cp2", "-u", "cp3", "-O", cib])
        for _ in 0..<3 { try toolOutput("crm_simulate", ["-x", cib, "-X"]) }
        let status = try toolOutput("crm_simulate", ["-x", cib, "--output-as=xml"])
        let started = status.matches(of: #/role="Started"/#).count
        #expect(started == 12, "not everything started: \(status)")
        let holder = try #require(status.firstMatch(of: #/<resource id="vip"[^>]*>\s*<node name="([^"]+)"/#)?.output.1)
        // Move the VIP away (as an operator's ban or a failed monitor would).
        try toolOutput("crm_resource", ["--ban", "--resource", "vip", "--node", String(holder)], environment: ["CIB_file": cib])
        let moved = try toolOutput("crm_simulate", ["-x", cib, "-S", "--output-as=xml"])
        let actions = moved.matches(of: #/<rsc_action action="(\w+)" resource="([^"]+)"/#).map { "\($0.output.1) \($0.output.2)" }
        #expect(actions == ["move vip"], "\(order): \(actions)")
    }

    @Test("bad input: every problem with its position, before anything is written")
    func badInput() throws {
        let secrets = try Secrets()
        defer { secrets.remove() }
        let cases: [(String, String)] = [
            (secrets.spec(nodes: 2, vips: ["198.18.0.100", "198.18.0.100"]), "VIP 198.18.0.100 is listed twice"),
            (secrets.spec(nodes: 2, vips: ["198.18.0.300"]), "'198.18.0.300' is not an IP address"),
            (secrets.spec(nodes: 2, vips: ["198.18.0.12"]), "VIP 198.18.0.12 is node 'cp2''s address"),
            (secrets.spec(nodes: 2, vips: ["198.18.0.0"]), "is the network or broadcast address"),
            (secrets.spec(nodes: 2, vips: ["198.18.0.100"]).replacingOccurrences(of: "name: cp2", with: "name: cp1"), "node 'cp1' is listed twice"),
            (secrets.spec(nodes: 2, vips: ["198.18.0.100"]).replacingOccurrences(of: "cp2.bmc", with: "missing.bmc"), "the password file \(secrets.folder)/missing.bmc does not exist"),
            (secrets.spec(nodes: 2, vips: ["198.18.0.100"]).replacingOccurrences(of: "username: admin, password-file", with: "password: hunter2, password-file"), "put the password in a file"),
            ("profile:\n  kubernetes-control-plane: {vips: [198.18.0.100]}\n", "a profile needs the cluster section"),
            (secrets.spec(nodes: 2, vips: ["198.18.0.100"]).replacingOccurrences(of: "  nodes:", with: "  totem: {token: 1000, consensus: 1000}\n  nodes:"), "must be at least 1.2 × token"),
        ]
        for (text, message) in cases {
            do {
                _ = try DeploymentSpec.parse(text, file: "bad.yaml")
                Issue.record("accepted a spec that should fail with: \(message)")
            } catch let error as SpecLoadError {
                #expect(error.description.contains(message), "\(error)")
                #expect(error.description.hasPrefix("bad.yaml:"), "no position: \(error)")
            }
        }
    }
}

/// khactl bootstrap on bare lab controllers: real corosync, pacemaker, haproxy, fence_redfish.
@Suite("khactl bootstrap in the lab", .serialized)
struct BootstrapLabTests {
    /// Runs `body` with a bare lab of `nodes` nodes, taken down afterwards.
    static func withBareLab(_ nodes: Int, _ body: (LabTests.LabRoot) throws -> Void) throws {
        let root = try LabTests.LabRoot()
        defer {
            _ = try? root.run(["lab", "down"])
            root.remove()
        }
        let up = try root.run(["lab", "up", "--bare", "--nodes", String(nodes)])
        try #require(up.status == 0, "lab up --bare: \(up.stderr)")
        try body(root)
    }

    static func nodeFile(_ root: LabTests.LabRoot, _ node: Int, _ path: String) -> String? {
        try? String(contentsOfFile: "\(root.path)/lab/node\(node)/\(path)", encoding: .utf8)
    }

    static func epoch(_ root: LabTests.LabRoot) throws -> Int {
        let cib = try root.run(["lab", "exec", "node1", "--", "cibadmin", "--query"])
        return Int(try #require(cib.stdout.firstMatch(of: #/<cib [^>]*\bepoch="(\d+)"/#)?.output.1)) ?? -1
    }

    /// `curl` from the lab client to the VIP's frontend: through haproxy to a stand-in API server.
    static func healthz(_ root: LabTests.LabRoot) throws -> String {
        let state = try String(contentsOfFile: "\(root.path)/lab/lab.json", encoding: .utf8)
        let holder = try #require(state.firstMatch(of: #/"switchHolder"\s*:\s*\{[^}]*"pid"\s*:\s*(\d+)/#)?.output.1)
        return try toolOutput("nsenter", ["--net=/proc/\(holder)/ns/net", "curl", "-sk", "--max-time", "5", "https://198.18.0.100:7443/healthz"])
    }

    static func check(
        _ root: LabTests.LabRoot, nodes: Int, via: String = "direct", timing: String? = nil, fenceAgent: String? = nil
    ) throws {
        let bootstrap = ["lab", "bootstrap", "--profile", "kubernetes-control-plane", "--via", via] + (timing.map { ["--timing", $0] } ?? [])
            + (fenceAgent.map { ["--fence-agent", $0] } ?? [])
        let first = try root.run(bootstrap, timeout: 300)
        #expect(first.status == 0, "lab bootstrap: \(first.stdout.suffix(3000)) \(first.stderr)")
        if via == "pcsd" {
            #expect(first.stdout.contains("node1 | bootstrap: authenticate to every node's pcsd: pcs host auth node1 addr=198.18.0.11"))
            #expect(first.stdout.contains("node1 | bootstrap: set the cluster up through pcsd: pcs cluster setup"))
            for node in 2...nodes {
                #expect(first.stdout.contains("node\(node) | bootstrap: receive corosync.conf and the authkey from node1"), "\(first.stdout)")
            }
        } else {
            #expect(first.stdout.contains("node1 | bootstrap: install authkey /etc/corosync/authkey (mode 0400)"))
        }
        if nodes == 2 { #expect(first.stdout.contains("two_node (which turns on wait_for_all)")) }
        // corosync.conf identical on every node; the authkey 0400.
        let configs = (1...nodes).map { nodeFile(root, $0, "etc/corosync/corosync.conf") }
        #expect(configs.allSatisfy { $0 != nil && $0 == configs[0] })
        #expect(configs[0]?.contains("two_node: 1") == (nodes == 2))
        for node in 1...nodes {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(root.path)/lab/node\(node)/etc/corosync/authkey")
            #expect((attributes[.posixPermissions] as? Int) == 0o400)
        }
        // Quorum, every resource started (give the cluster a few seconds to start them).
        var status: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(60)
        repeat {
            status = (try? root.json(["lab", "exec", "node1", "--", productsDirectory.appendingPathComponent("khactl").path, "status", "--output", "json"])) ?? [:]
            let resources = status["resources"] as? [[String: Any]] ?? []
            if status["quorate"] as? Bool == true, !resources.isEmpty, resources.allSatisfy({ $0["role"] as? String == "Started" }) { break }
            usleep(500_000)
        } while Date() < deadline
        let resources = try #require(status["resources"] as? [[String: Any]])
        #expect(status["quorate"] as? Bool == true)
        #expect(resources.allSatisfy { $0["role"] as? String == "Started" }, "\(resources)")
        #expect(resources.filter { $0["id"] as? String == "haproxy" }.count == nodes)
        #expect(resources.filter { $0["id"] as? String == "kube-apiserver" }.count == nodes)
        #expect(resources.filter { ($0["id"] as? String)?.hasPrefix("fence-") == true }.count == nodes)
        // The VIP answers on the frontend port and reaches an API server stand-in through haproxy (whose
        // health checks need two passes, 1 s apart, before a new API server gets traffic).
        var answer = ""
        for _ in 0..<20 {
            answer = (try? healthz(root)) ?? ""
            if answer == "ok" { break }
            usleep(500_000)
        }
        #expect(answer == "ok")
        // A re-run on every node changes nothing: same CIB epoch, same corosync.conf.
        let epoch = try epoch(root)
        let again = try root.run(bootstrap, timeout: 300)
        #expect(again.status == 0, "\(again.stderr)")
        for node in 1...nodes {
            #expect(again.stdout.contains("node\(node) | bootstrap: nothing changed"), "\(again.stdout.suffix(2000))")
        }
        #expect(try self.epoch(root) == epoch)
        #expect((1...nodes).map { nodeFile(root, $0, "etc/corosync/corosync.conf") } == configs)
    }

    @Test("3 bare controllers: bootstrap, VIP through haproxy to the API servers, re-run changes nothing, drills in 3 modes")
    func threeNodes() throws {
        try Self.withBareLab(3) { root in
            try Self.check(root, nodes: 3)
            // A nodelist that differs from the running one is reported, and written only with --reload.
            let spec = try String(contentsOfFile: "\(root.path)/lab/bootstrap.yaml", encoding: .utf8)
            let changed = "\(root.path)/changed.yaml"
            try spec.replacingOccurrences(of: "token: 500", with: "token: 450").write(toFile: changed, atomically: true, encoding: .utf8)
            let refused = try root.run([
                "lab", "exec", "node1", "--", productsDirectory.appendingPathComponent("khactl").path, "bootstrap", "-f", changed, "--node", "node1",
            ])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("differs from the spec's and corosync is running with it") && refused.stderr.contains("+     token: 450"), "\(refused.stderr)")
            #expect(Self.nodeFile(root, 1, "etc/corosync/corosync.conf")?.contains("token: 500") == true)
            for mode in ["crash", "partition", "isolate"] {
                let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", mode, "--output", "json"])
                #expect(drill["dualActiveSamples"] as? Int == 0, "\(mode): \(drill)")
                let failover = drill["failover"] as? [String: Any]
                #expect((failover?["max"] as? Double ?? 99) < 10, "\(mode): \(drill)")
            }
        }
    }

    @Test("timing fast on 3 bare controllers: token 250 with knet's heartbeat apart, no membership change while idle, drills in 3 modes without dual-active")
    func fastTiming() throws {
        try Self.withBareLab(3) { root in
            // With khactl's compiled fence agent, the fast preset's companion (Docs/benchmarks.md).
            try Self.check(root, nodes: 3, timing: "fast", fenceAgent: "fence_khactl")
            let devices = try root.run(["lab", "exec", "node1", "--", "cibadmin", "--query", "--xpath", "//primitive[@class='stonith']"])
            let types = devices.stdout.components(separatedBy: "type=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
            #expect(types == ["fence_khactl", "fence_khactl", "fence_khactl"], "\(devices.stdout)")
            let config = try #require(Self.nodeFile(root, 1, "etc/corosync/corosync.conf"))
            #expect(config.contains("    token: 250\n    consensus: 300\n"), "\(config)")
            #expect(config.contains("        knet_ping_interval: 125\n        knet_ping_timeout: 500\n"), "\(config)")
            let runtime = try root.run(["lab", "exec", "node1", "--", "corosync-cmapctl", "-g", "runtime.config.totem.interface.0.knet_ping_timeout"])
            #expect(runtime.stdout == "runtime.config.totem.interface.0.knet_ping_timeout (u32) = 500\n", "\(runtime.stdout) \(runtime.stderr)")
            // Idle for 20 s: with knet's default heartbeat (125 ms at this token) the lab lost a link every 9 s.
            let log = "\(root.path)/lab/node1/var/log/corosync/corosync.log"
            let before = try String(contentsOfFile: log, encoding: .utf8).components(separatedBy: "A processor failed").count
            sleep(20)
            #expect(try String(contentsOfFile: log, encoding: .utf8).components(separatedBy: "A processor failed").count == before)
            for mode in ["crash", "partition", "isolate"] {
                let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", mode, "--output", "json"])
                #expect(drill["dualActiveSamples"] as? Int == 0, "\(mode): \(drill)")
                let rounds = drill["details"] as? [[String: Any]] ?? []
                #expect(rounds.count == 1 && rounds.allSatisfy { $0["newHolder"] as? String != $0["victim"] as? String }, "\(mode): \(drill)")
                // The victim was fenced (through fence_khactl: the only devices) before the VIP moved.
                let phases = rounds.first?["phases"] as? [String: Any] ?? [:]
                #expect(phases["fenceConfirmed"] is Double, "\(mode): \(drill)")
            }
        }
    }

    @Test("a bare pair: bootstrap with two_node, the VIP answers, a crash drill fences and moves it")
    func pair() throws {
        try Self.withBareLab(2) { root in
            try Self.check(root, nodes: 2)
            let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", "crash", "--output", "json"])
            #expect(drill["dualActiveSamples"] as? Int == 0, "\(drill)")
        }
    }

    @Test("the pcsd route: pcsd on every node of a bare pair, pcs host auth and pcs cluster setup from node1, the profile, a crash drill")
    func pcsdPair() throws {
        let hostShadow = try String(contentsOfFile: "/etc/shadow", encoding: .utf8)
        let units = try toolOutput("systemctl", ["list-unit-files", "--no-legend", "corosync.service", "pacemaker.service"])
        try Self.withBareLab(2) { root in
            try Self.check(root, nodes: 2, via: "pcsd")
            // pcs wrote corosync.conf (its cluster_uuid) and both authkeys; node1 knows both pcsd hosts.
            #expect(Self.nodeFile(root, 1, "etc/corosync/corosync.conf")?.contains("cluster_uuid:") == true)
            #expect(Self.nodeFile(root, 1, "etc/corosync/corosync.conf")?.contains("token_coefficient: 0") == true)
            #expect(FileManager.default.fileExists(atPath: "\(root.path)/lab/node2/etc/pacemaker/authkey"))
            let knownHosts = Self.nodeFile(root, 1, "var/lib/pcsd/known-hosts") ?? ""
            #expect(knownHosts.contains("\"node1\"") && knownHosts.contains("\"node2\""), "\(knownHosts)")
            // pcs itself sees the cluster it made.
            let status = try root.run(["lab", "exec", "node1", "--", "pcs", "status", "nodes", "corosync"])
            #expect(status.stdout.contains("Online: node1 node2"), "\(status.stdout) \(status.stderr)")
            let drill = try root.json(["lab", "drill", "--rounds", "1", "--mode", "crash", "--output", "json"])
            #expect(drill["dualActiveSamples"] as? Int == 0, "\(drill)")
            // The password never left its files: not in any output, and the host's shadow and unit links
            // are as they were (the nodes' own copies and /etc/systemd took pcs's changes).
            let password = try String(contentsOfFile: "\(root.path)/lab/hacluster-password", encoding: .utf8)
            let logs = try root.run(["lab", "bootstrap", "--profile", "kubernetes-control-plane", "--via", "pcsd"], timeout: 300)
            #expect(!(logs.stdout + logs.stderr).contains(password))
        }
        #expect(try String(contentsOfFile: "/etc/shadow", encoding: .utf8) == hostShadow, "the host's /etc/shadow changed")
        #expect(try toolOutput("systemctl", ["list-unit-files", "--no-legend", "corosync.service", "pacemaker.service"]) == units)
    }

    @Test("bad input on a bare controller: an authkey of the wrong size, a missing password file; nothing is written")
    func badInput() throws {
        try Self.withBareLab(1) { root in
            let khactl = productsDirectory.appendingPathComponent("khactl").path
            let key = "\(root.path)/short.key"
            #expect(FileManager.default.createFile(atPath: key, contents: Data(repeating: 7, count: 16), attributes: [.posixPermissions: 0o400]))
            let spec = "\(root.path)/one.yaml"
            try """
                cluster:
                  name: one
                  nodes: [{name: node1, addresses: [198.18.0.11]}]
                profile:
                  kubernetes-control-plane: {vips: [198.18.0.100], haproxy: {agent: "lsb:haproxy"}, apiserver: false, control-group: false}
                """.write(toFile: spec, atomically: true, encoding: .utf8)
            let short = try root.run(["lab", "exec", "node1", "--", khactl, "bootstrap", "-f", spec, "--authkey", key, "--node", "node1"])
            #expect(short.status == 1)
            #expect(short.stderr.contains("--authkey: authkey \(key) is 16 bytes; corosync needs 128 to 512 bytes (1024 to 4096 bits)"), "\(short.stderr)")
            #expect(short.stderr.contains("nothing was written"))
            let noKey = try root.run(["lab", "exec", "node1", "--", khactl, "bootstrap", "-f", spec, "--node", "node1"])
            #expect(noKey.status == 1)
            #expect(noKey.stderr.contains("khactl keygen FILE"), "\(noKey.stderr)")
            let missing = "\(root.path)/missing.yaml"
            try (try String(contentsOfFile: spec, encoding: .utf8)).replacingOccurrences(
                of: "addresses: [198.18.0.11]}", with: "addresses: [198.18.0.11], fence: {agent: fence_redfish, ip: 198.18.0.211, password-file: /etc/khactl/none}}"
            ).write(toFile: missing, atomically: true, encoding: .utf8)
            let noPassword = try root.run(["lab", "exec", "node1", "--", khactl, "bootstrap", "-f", missing, "--node", "node1"])
            #expect(noPassword.status == 1)
            #expect(noPassword.stderr.contains("the password file /etc/khactl/none does not exist"), "\(noPassword.stderr)")
            // The pcsd route: the hacluster password comes from a file that must exist, never from argv.
            let noHacluster = try root.run([
                "lab", "exec", "node1", "--", khactl, "bootstrap", "-f", spec, "--node", "node1", "--via", "pcsd", "--pcsd-password-file", "/etc/khactl/none",
            ])
            #expect(noHacluster.status == 1)
            #expect(noHacluster.stderr.contains("--pcsd-password-file /etc/khactl/none does not exist"), "\(noHacluster.stderr)")
            let noFile = try root.run(["lab", "exec", "node1", "--", khactl, "bootstrap", "-f", spec, "--node", "node1", "--via", "pcsd"])
            #expect(noFile.status != 0)
            #expect(noFile.stderr.contains("--via pcsd needs --pcsd-password-file FILE"), "\(noFile.stderr)")
            // The node's /etc/corosync, /etc/haproxy and /etc/sysctl.d are as empty as before.
            for folder in ["etc/corosync", "etc/haproxy", "etc/sysctl.d"] {
                let entries = try FileManager.default.contentsOfDirectory(atPath: "\(root.path)/lab/node1/\(folder)")
                #expect(entries.isEmpty, "\(folder): \(entries)")
            }
        }
    }
}
