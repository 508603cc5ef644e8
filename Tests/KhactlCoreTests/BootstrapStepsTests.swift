import ClusterExec
import Foundation
import KhactlCore
import Pacemaker
import Synchronization
import Testing
import TestSupport

/// A runner that records every command and answers from a script: bootstrap's steps without a lab.
final class ScriptedRunner: CommandRunner {
    private let recorded = Mutex<[Command]>([])
    private let answer: @Sendable (Command) -> CommandOutput

    init(_ answer: @escaping @Sendable (Command) -> CommandOutput = { _ in CommandOutput(status: 0, standardOutput: "", standardError: "") }) {
        self.answer = answer
    }

    var commands: [Command] { recorded.withLock { $0 } }
    var lines: [String] { commands.map { ([$0.executable] + $0.arguments).joined(separator: " ") } }

    func run(_ command: Command) async throws(CommandError) -> CommandOutput {
        recorded.withLock { $0.append(command) }
        return answer(command)
    }
}

/// Each step of `khactl bootstrap` on its own, with a scripted runner and a described host: the commands it
/// runs (exactly), the files it writes, and that a second run changes nothing.
@Suite("bootstrap steps, without a lab")
struct BootstrapStepsTests {
    /// A pair spec, password files and a folder standing in for /etc, removed by `remove()`.
    struct Scratch {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-steps-\(UUID().uuidString.prefix(8))").path

        init() throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for index in 1...2 {
                try SecureFile.write("\(folder)/cp\(index).bmc", Data("pw\(index)\n".utf8), mode: 0o600)
            }
            try SecureFile.write("\(folder)/hacluster.pw", Data("hc-Secret-1\n".utf8), mode: 0o600)
            // An installed authkey (bootstrap without --authkey requires one).
            try FileManager.default.createDirectory(atPath: "\(folder)/corosync", withIntermediateDirectories: true)
            try SecureFile.write("\(folder)/corosync/authkey", Data(repeating: 7, count: 256), mode: 0o400)
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }

        func deployment(quorumDevice: Bool = false, dcDeadtime: Bool = false, extra: String = "") throws -> DeploymentSpec {
            var text = "cluster:\n  name: k8s-cp\n" + extra
            if quorumDevice { text += "  quorum-device: {host: 198.18.0.10, algorithm: ffsplit}\n" }
            if dcDeadtime { text += "  dc-deadtime: 5s\n" }
            text += "  nodes:\n"
            for index in 1...2 {
                text += "    - {name: cp\(index), addresses: [198.18.0.1\(index)], fence: {agent: fence_redfish, ip: 198.18.0.21\(index), username: admin, password-file: \(folder)/cp\(index).bmc}}\n"
            }
            text += "profile:\n  kubernetes-control-plane:\n    vips: [198.18.0.100]\n"
            return try DeploymentSpec.parse(text)
        }

        func options(node: String = "cp1") -> BootstrapOptions {
            var options = BootstrapOptions()
            options.node = node
            options.progress = { _ in }
            options.paths.corosyncConfig = "\(folder)/corosync/corosync.conf"
            options.paths.authkey = "\(folder)/corosync/authkey"
            options.paths.haproxyConfig = "\(folder)/haproxy/haproxy.cfg"
            options.paths.sysctlFile = "\(folder)/sysctl.d/90-khactl.conf"
            options.paths.cib = "\(folder)/cib/cib.xml"
            options.paths.liveNonlocalBind = "\(folder)/ip_nonlocal_bind"
            return options
        }
    }

    /// Collects a step's notes.
    final class Notes: @unchecked Sendable {
        var changed: [String] = []
        var unchanged: [String] = []
        func note(_ didChange: Bool, _ what: String) { if didChange { changed.append(what) } else { unchanged.append(what) } }
    }

    static let nothingRuns = BootstrapHost(systemd: true, running: { _ in false })

    @Test("systemd host, nothing running: corosync and pacemaker enabled and started by systemctl, in order")
    func systemdStart() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Not active, not enabled, until `enable --now`.
        let runner = ScriptedRunner { command in
            CommandOutput(status: command.arguments.first == "enable" ? 0 : 3, standardOutput: "", standardError: "")
        }
        let bootstrap = try Bootstrap(deployment: try scratch.deployment(), options: scratch.options(), runner: runner, host: Self.nothingRuns)
        let notes = Notes()
        try await bootstrap.startServices(note: notes.note)
        #expect(runner.lines == [
            "systemctl is-active --quiet corosync", "systemctl is-enabled --quiet corosync", "systemctl enable --now corosync",
            "systemctl is-active --quiet pacemaker", "systemctl is-enabled --quiet pacemaker", "systemctl enable --now pacemaker",
        ])
        #expect(notes.changed == ["enable and start corosync (systemd)", "enable and start pacemaker (systemd)"])
    }

    @Test("systemd host: with a quorum device corosync-qdevice starts between them; running and enabled units are left alone")
    func systemdQuorumDeviceAndRerun() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var options = scratch.options()
        // A folder with the two files `witness init` writes (bootstrap checks they exist before anything).
        try FileManager.default.createDirectory(atPath: "\(scratch.folder)/qnetd", withIntermediateDirectories: true)
        for file in [QuorumDeviceCertificates.caCertificate, QuorumDeviceCertificates.bundle] {
            try SecureFile.write("\(scratch.folder)/qnetd/\(file)", Data("x".utf8), mode: 0o600)
        }
        options.qdeviceCertificates = "\(scratch.folder)/qnetd"
        let runner = ScriptedRunner()
        let bootstrap = try Bootstrap(
            deployment: try scratch.deployment(quorumDevice: true), options: options, runner: runner, host: Self.nothingRuns)
        let notes = Notes()
        try await bootstrap.startServices(note: notes.note)
        #expect(runner.lines == ["corosync", "corosync-qdevice", "pacemaker"].flatMap {
            ["systemctl is-active --quiet \($0)", "systemctl is-enabled --quiet \($0)"]
        })
        #expect(notes.changed == [])
        #expect(notes.unchanged == ["corosync running (systemd)", "corosync-qdevice running (systemd)", "pacemaker running (systemd)"])
    }

    /// The pcsd route's key step on cp1 of the pair spec (plus `extra` cluster lines): the commands it ran.
    func pcsdInstallKeys(extra: String = "", notes: Notes = Notes()) async throws -> ScriptedRunner {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var options = scratch.options()
        options.pcsdPasswordFile = "\(scratch.folder)/hacluster.pw"
        // pcs makes the authkey on this route.
        try FileManager.default.removeItem(atPath: options.paths.authkey)
        let runner = ScriptedRunner()
        let deployment = try scratch.deployment(extra: extra)
        let bootstrap = try Bootstrap(deployment: deployment, options: options, runner: runner, host: Self.nothingRuns)
        try await bootstrap.installKeys(node: try bootstrap.localNode(), note: notes.note)
        return runner
    }

    @Test("the pcsd route on systemd: pcs host auth with the password on stdin only, cluster setup with --enable --start --wait")
    func pcsdRoute() async throws {
        let notes = Notes()
        let runner = try await pcsdInstallKeys(notes: notes)
        #expect(runner.lines == [
            "pcs host auth cp1 addr=198.18.0.11 cp2 addr=198.18.0.12 -u hacluster",
            "pcs cluster setup k8s-cp cp1 addr=198.18.0.11 cp2 addr=198.18.0.12 transport knet totem token=500 consensus=600 token_coefficient=0 --enable --start --wait=180",
        ])
        #expect(runner.commands.first?.standardInput == Array("hc-Secret-1\n".utf8))
        #expect(runner.commands.allSatisfy { command in !command.arguments.contains { $0.contains("hc-Secret-1") } && command.environment.isEmpty })
        #expect(notes.changed.count == 2)
    }

    @Test("cluster.timing: fast is token 250, consensus 300 and knet's heartbeat apart from the token; totem overrides the preset's token")
    func timingPreset() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let standard = try #require(try scratch.deployment().cluster)
        #expect(standard.timing == .standard)
        #expect(standard.token == 500 && standard.consensus == 600)
        #expect(standard.corosyncConfig.knetHeartbeat == nil)
        #expect(!standard.corosyncConfig.render().contains("interface"))

        let fast = try #require(try scratch.deployment(extra: "  timing: fast\n").cluster)
        #expect(fast.timing == .fast)
        #expect(fast.token == 250 && fast.consensus == 300)
        let totem = try #require(fast.corosyncConfig.render().split(separator: "\n\n").first)
        #expect(totem == """
            # Written by khactl. Changes are overwritten on the next bootstrap.
            totem {
                version: 2
                cluster_name: k8s-cp
                transport: knet
                crypto_cipher: aes256
                crypto_hash: sha256
                token: 250
                consensus: 300
                token_coefficient: 0
                interface {
                    linknumber: 0
                    knet_ping_interval: 125
                    knet_ping_timeout: 500
                }
            }
            """)

        // A token of its own: consensus 1.2 × token, the preset's heartbeat kept.
        let own = try #require(try scratch.deployment(extra: "  timing: fast\n  totem: {token: 400}\n").cluster)
        #expect(own.token == 400 && own.consensus == 480, "\(own.token) \(own.consensus)")
        #expect(own.corosyncConfig.knetHeartbeat == CorosyncConfig.KnetHeartbeat(interval: 125, timeout: 500))
        #expect(try scratch.deployment(extra: "  timing: default\n").cluster?.timing == .standard)
    }

    @Test("cluster.timing: an unknown preset is refused with the preset names")
    func timingUnknown() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        do {
            _ = try scratch.deployment(extra: "  timing: faster\n")
            Issue.record("timing: faster was accepted")
        } catch {
            #expect("\(error)".hasSuffix(":3:11: cluster.timing: 'faster' is not a timing preset (default or fast)"), "\(error)")
        }
    }

    @Test("the pcsd route with timing fast: pcs cluster setup gets knet's heartbeat as link options")
    func pcsdRouteFast() async throws {
        let runner = try await pcsdInstallKeys(extra: "  timing: fast\n")
        #expect(runner.lines.last == "pcs cluster setup k8s-cp cp1 addr=198.18.0.11 cp2 addr=198.18.0.12 transport knet "
            + "link linknumber=0 ping_interval=125 ping_timeout=500 totem token=250 consensus=300 token_coefficient=0 --enable --start --wait=180")
    }

    @Test("corosync.conf: written with mode 0644, unchanged on a re-run; a running corosync's other file is refused without --reload")
    func corosyncConfig() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let runner = ScriptedRunner()
        let deployment = try scratch.deployment()
        let bootstrap = try Bootstrap(deployment: deployment, options: scratch.options(), runner: runner, host: Self.nothingRuns)
        let notes = Notes()
        #expect(try await bootstrap.writeCorosyncConfig(corosyncRunning: false, note: notes.note) == false)
        let path = scratch.options().paths.corosyncConfig
        #expect(try String(contentsOfFile: path, encoding: .utf8) == deployment.cluster?.corosyncConfig.render())
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o644)
        #expect(try await bootstrap.writeCorosyncConfig(corosyncRunning: true, note: notes.note) == false)
        #expect(notes.changed == ["write corosync.conf \(path)"])
        #expect(notes.unchanged == ["corosync.conf \(path)"])

        try "totem {\n    token: 3000\n}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = await #expect(throws: BootstrapError.self) {
            try await bootstrap.writeCorosyncConfig(corosyncRunning: true, note: notes.note)
        }
        #expect(error?.message.hasPrefix("\(path) differs from the spec's and corosync is running with it:\n  -     token: 3000\n") == true)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "totem {\n    token: 3000\n}\n")
        #expect(runner.commands.isEmpty)
    }

    @Test("sysctl and haproxy: files written, `sysctl -q -p FILE` run once; with the kernel set, a re-run runs nothing")
    func sysctlAndHAProxy() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let runner = ScriptedRunner()
        let deployment = try scratch.deployment()
        let options = scratch.options()
        let bootstrap = try Bootstrap(deployment: deployment, options: options, runner: runner, host: Self.nothingRuns)
        let profile = try #require(deployment.profile)
        let notes = Notes()
        try "0\n".write(toFile: options.paths.liveNonlocalBind, atomically: true, encoding: .utf8)
        try await bootstrap.allowNonlocalBind(profile, note: notes.note)
        try await bootstrap.writeHAProxyConfig(profile, note: notes.note)
        #expect(runner.lines == ["sysctl -q -p \(options.paths.sysctlFile)"])
        #expect(try String(contentsOfFile: options.paths.sysctlFile, encoding: .utf8)
            == "# Written by khactl bootstrap: haproxy binds the API VIPs before they arrive.\nnet.ipv4.ip_nonlocal_bind = 1\n")
        #expect(try String(contentsOfFile: options.paths.haproxyConfig, encoding: .utf8)
            == HAProxyConfig.render(profile: profile, cluster: try #require(deployment.cluster)))
        #expect(notes.changed.count == 2)

        try "1\n".write(toFile: options.paths.liveNonlocalBind, atomically: true, encoding: .utf8)
        let again = Notes()
        try await bootstrap.allowNonlocalBind(profile, note: again.note)
        try await bootstrap.writeHAProxyConfig(profile, note: again.note)
        #expect(runner.lines.count == 1)
        #expect(again.changed == [])
        #expect(again.unchanged.count == 2)
    }

    @Test("the first CIB: cibadmin --empty, then dc-deadtime set in that file through CIB_file; not when pacemaker runs")
    func seedCIB() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let empty = #"<cib crm_feature_set="3.19.0" validate-with="pacemaker-3.9" epoch="0" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>"#
        let runner = ScriptedRunner { command in
            CommandOutput(status: 0, standardOutput: command.executable == "cibadmin" ? empty : "", standardError: "")
        }
        let options = scratch.options()
        let deployment = try scratch.deployment(dcDeadtime: true)
        let running = try Bootstrap(
            deployment: deployment, options: options, runner: runner, host: BootstrapHost(systemd: true, running: { $0 == "pacemakerd" }))
        let notes = Notes()
        try await running.seedFirstCIB(note: notes.note)
        #expect(runner.commands.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: options.paths.cib))

        let bootstrap = try Bootstrap(deployment: deployment, options: options, runner: runner, host: Self.nothingRuns)
        try await bootstrap.seedFirstCIB(note: notes.note)
        #expect(runner.lines == ["cibadmin --empty", "crm_attribute --type crm_config --name dc-deadtime --update 5s"])
        #expect(runner.commands.last?.environment == ["CIB_file": options.paths.cib])
        #expect(try String(contentsOfFile: options.paths.cib, encoding: .utf8) == empty)
        #expect(notes.changed == ["seed the first CIB (dc-deadtime 5s)"])
    }
}
