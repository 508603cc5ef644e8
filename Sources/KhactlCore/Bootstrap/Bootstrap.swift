import ClusterExec
import Corosync
import Foundation
import Pacemaker

/// Where bootstrap writes; real hosts use the defaults.
package struct BootstrapPaths: Sendable {
    package var corosyncConfig = "/etc/corosync/corosync.conf"
    package var authkey = "/etc/corosync/authkey"
    package var haproxyConfig = "/etc/haproxy/haproxy.cfg"
    package var sysctlFile = "/etc/sysctl.d/90-khactl.conf"
    package var cib = "/var/lib/pacemaker/cib/cib.xml"
    package var pacemakerLog = "/var/log/pacemaker/pacemaker.log"
    /// The kernel's live setting, read to tell whether `sysctl -p` must run.
    package var liveNonlocalBind = "/proc/sys/net/ipv4/ip_nonlocal_bind"

    package init() {}
}

/// What bootstrap reads of the host besides files: whether systemd is its service manager, and whether a
/// daemon runs (as root). Real runs read /run/systemd and /proc; tests describe a host.
package struct BootstrapHost: Sendable {
    /// Whether systemd is the service manager.
    package var systemd: Bool
    /// Whether a root process of this name runs.
    package var running: @Sendable (String) -> Bool

    package init(systemd: Bool, running: @escaping @Sendable (String) -> Bool) {
        self.systemd = systemd
        self.running = running
    }

    /// This host.
    package static var local: BootstrapHost { BootstrapHost(systemd: Bootstrap.systemdRuns, running: Bootstrap.running) }
}

/// Options of one bootstrap run.
package struct BootstrapOptions: Sendable {
    /// This node's name in the spec; nil: the host name.
    package var node: String?
    /// The authkey to install (made once with `khactl keygen FILE` and copied to every node).
    package var authkey: String?
    /// Show what would be done; change nothing.
    package var dryRun = false
    /// Apply a corosync.conf that differs from the running one: written here, then reloaded on every node by one
    /// `corosync-cfgtool -R` once every member holds the same file (``ReloadBarrier``: run it on every node).
    package var reload = false
    /// Adopt objects of the profile that exist but were not made by khactl.
    package var adopt = false
    /// The pcsd route: a file with the `hacluster` user's password (the same on every node); pcs then makes
    /// the authkeys and corosync.conf (`pcs host auth`, `pcs cluster setup` on the spec's first node, with
    /// `--enable --start` where systemd runs) instead of khactl.
    package var pcsdPasswordFile: String?
    /// Remove khactl's objects that left the spec (as `apply --prune`).
    package var prune = false
    /// Runs once pacemaker is up, before the resource graph is applied, with whether this node reloaded corosync.
    package var beforeApply: (@Sendable (_ reloadedHere: Bool) async throws -> Void)?
    /// With a quorum device in the spec: the folder `khactl witness init` wrote (qnetd's CA certificate and the
    /// cluster's certificate), imported into qdevice's database unless it has them.
    package var qdeviceCertificates: String?
    /// How long to wait for quorum and for pacemaker.
    package var timeout: Duration = .seconds(180)
    package var paths = BootstrapPaths()
    /// Receives each line of progress.
    package var progress: @Sendable (String) -> Void = { print($0) }

    package init() {}
}

/// An error that stops bootstrap; nothing after the failing step was done.
package struct BootstrapError: Error, Hashable, Sendable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// `khactl bootstrap`: from a controller with corosync and pacemaker installed to a member of a fenced,
/// quorate cluster running the profile. Every step checks before it acts, so a re-run changes nothing.
package struct Bootstrap: Sendable {
    package let deployment: DeploymentSpec
    package let cluster: ClusterSpec
    package let options: BootstrapOptions
    /// Every command of every step goes through it (tests script one).
    let runner: any CommandRunner
    /// The host's service manager and daemons (tests describe one).
    let host: BootstrapHost

    /// What a run changed, step by step (empty on a re-run).
    package struct Report: Sendable {
        package var changed: [String] = []
        package var unchanged: [String] = []
        package var applied: ApplyResult?
    }

    /// Checks the spec and the inputs; throws before anything is written.
    package init(
        deployment: DeploymentSpec, options: BootstrapOptions, runner: any CommandRunner = SubprocessRunner(),
        host: BootstrapHost = .local
    ) throws {
        self.runner = runner
        self.host = host
        guard let cluster = deployment.cluster else {
            throw BootstrapError("the spec has no cluster section; bootstrap needs the cluster's name and nodes")
        }
        self.deployment = deployment
        self.cluster = cluster
        self.options = options
        let problems = Validator.validate(deployment.spec).filter { $0.severity == .error }
        if !problems.isEmpty {
            throw BootstrapError(problems.map { "error: \($0)" }.joined(separator: "\n"))
        }
        if cluster.quorumDevice != nil, !QuorumDeviceCertificates.databaseExists(QuorumDeviceCertificates.nodeDatabase) {
            guard let folder = options.qdeviceCertificates else {
                throw BootstrapError(
                    "the spec has a quorum device: pass --qdevice-certificates DIR, the folder `khactl witness init --cluster \(cluster.name)` wrote on the witness")
            }
            for file in [QuorumDeviceCertificates.caCertificate, QuorumDeviceCertificates.bundle]
            where !FileManager.default.fileExists(atPath: "\(folder)/\(file)") {
                throw BootstrapError("--qdevice-certificates \(folder) has no \(file) (made by `khactl witness init` on the witness)")
            }
        }
        let missing = AgentCheck.missing(in: deployment.spec.configuration)
        if !missing.isEmpty { throw BootstrapError(missing.map { "error: \($0)" }.joined(separator: "\n")) }
        _ = try localNode()
        if let path = options.authkey {
            do {
                _ = try AuthKey.read(path)
            } catch {
                throw BootstrapError("--authkey: \(error)")
            }
        } else if let file = options.pcsdPasswordFile {
            _ = try Self.haclusterPassword(file)
        } else if !FileManager.default.fileExists(atPath: options.paths.authkey) {
            throw BootstrapError(
                "no authkey at \(options.paths.authkey): make one with `khactl keygen FILE`, copy it to every node, and pass --authkey FILE")
        }
    }

    /// This node in the spec.
    package func localNode() throws -> ClusterSpec.Node {
        let name = options.node ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        guard let node = cluster.nodes.first(where: { $0.name == name }) else {
            throw BootstrapError(
                "this node ('\(name)') is not in the spec's cluster (\(cluster.nodes.map(\.name).joined(separator: ", "))); pass --node NAME")
        }
        return node
    }

    /// Runs every step, in order; each checks before it acts and notes what it changed or found as wanted.
    package func run() async throws -> Report {
        var report = Report()
        let say = options.progress
        let prefix = options.dryRun ? "would " : ""
        func note(_ changed: Bool, _ what: String) {
            if changed {
                report.changed.append(what)
                say("bootstrap: \(prefix)\(what)")
            } else {
                report.unchanged.append(what)
                say("bootstrap: unchanged: \(what)")
            }
        }
        let node = try localNode()
        // One bootstrap at a time on a node: two would race on the same files and daemons.
        let lock = options.dryRun ? nil : try Self.lock()
        defer { if let lock { close(lock) } }
        say("bootstrap: node \(node.name) (id \(node.nodeID)) of cluster \(cluster.name), \(cluster.nodes.count) nodes, token \(cluster.token) ms, consensus \(cluster.consensus) ms")
        let corosyncRunning = host.running("corosync")

        try await installKeys(node: node, note: note)                                          // 1
        let reloadedHere = try await writeCorosyncConfig(corosyncRunning: corosyncRunning, note: note)  // 2
        try await importQuorumDeviceCertificates(note: note)                                   // 2b
        if let profile = deployment.profile {
            try await allowNonlocalBind(profile, note: note)                                   // 3
            try await writeHAProxyConfig(profile, note: note)                                  // 4
        }
        try await seedFirstCIB(note: note)                                                     // 5
        try await startServices(note: note)                                                    // 6
        if options.dryRun {
            say("bootstrap: dry run: nothing was written or started")
            return report
        }
        try await waitForQuorum()                                                              // 7
        say("bootstrap: corosync: quorate")
        try await waitForPacemaker(node: node.name)
        say("bootstrap: pacemaker: DC elected, \(node.name) online")
        report.applied = try await applyResourceGraph(reloadedHere: reloadedHere, note: note)  // 8
        return report
    }

    // MARK: - Steps

    /// 1. The authkey: installed from `--authkey` (never replacing another key), or, on the pcsd route, made and
    /// sent by pcs together with corosync.conf.
    package func installKeys(node: ClusterSpec.Node, note: (Bool, String) -> Void) async throws {
        if let file = options.pcsdPasswordFile {
            try await setUpThroughPCSD(node: node, passwordFile: file, note: note)
        } else if let source = options.authkey {
            let key = try AuthKey.read(source)
            let current = FileManager.default.contents(atPath: options.paths.authkey)
            if let current, [UInt8](current) == key.bytes {
                note(false, "authkey \(options.paths.authkey)")
            } else if current != nil {
                throw BootstrapError(
                    "\(options.paths.authkey) holds another key; a running cluster's key is not replaced by bootstrap (remove it first if this node is new)")
            } else {
                if !options.dryRun { try key.write(to: options.paths.authkey) }
                note(true, "install authkey \(options.paths.authkey) (mode 0400)")
            }
        } else {
            note(false, "authkey \(options.paths.authkey)")
        }
    }

    /// 2. corosync.conf: written when it differs; a running corosync's file changes only with `--reload`, and
    /// then every node reloads once through ``ReloadBarrier``. Returns whether this node ran the reload.
    package func writeCorosyncConfig(corosyncRunning: Bool, note: (Bool, String) -> Void) async throws -> Bool {
        // On the pcsd route pcs wrote it in step 1.
        guard options.pcsdPasswordFile == nil else { return false }
        let config = cluster.corosyncConfig.render()
        let currentConfig = try? String(contentsOfFile: options.paths.corosyncConfig, encoding: .utf8)
        if currentConfig == config {
            note(false, "corosync.conf \(options.paths.corosyncConfig)")
            return false
        }
        if currentConfig != nil && corosyncRunning && !options.reload {
            throw BootstrapError(
                "\(options.paths.corosyncConfig) differs from the spec's and corosync is running with it:\n"
                    + Self.lineDiff(currentConfig ?? "", config)
                    + "\nrun again with --reload on every node: each writes it, and corosync reloads once all of them hold it")
        }
        if !options.dryRun { try Self.writeAtomically(options.paths.corosyncConfig, config, mode: 0o644) }
        note(true, "write corosync.conf \(options.paths.corosyncConfig)")
        guard corosyncRunning && options.reload else { return false }
        var reloadedHere = false
        if !options.dryRun {
            do {
                let barrier = ReloadBarrier(
                    key: try WatcherKey(authkey: options.paths.authkey, purpose: ReloadBarrier.purpose), corosync: cluster.corosyncConfig,
                    timeout: options.timeout, runner: runner, progress: { [options] in options.progress("bootstrap: \($0)") })
                reloadedHere = try await barrier.run().reloaded
            } catch {
                // Nothing reloaded: the running corosync's file goes back.
                if let currentConfig { try? Self.writeAtomically(options.paths.corosyncConfig, currentConfig, mode: 0o644) }
                throw error
            }
        }
        note(true, "reload corosync on every node once all of them hold this file (coordinated corosync-cfgtool -R)")
        return reloadedHere
    }

    /// 2b. The quorum device's certificates, imported into qdevice's database unless it has them.
    package func importQuorumDeviceCertificates(note: (Bool, String) -> Void) async throws {
        guard cluster.quorumDevice != nil else { return }
        if QuorumDeviceCertificates.databaseExists(QuorumDeviceCertificates.nodeDatabase) {
            note(false, "quorum device certificates (\(QuorumDeviceCertificates.nodeDatabase))")
            return
        }
        if !options.dryRun, let folder = options.qdeviceCertificates {
            try await QuorumDeviceCertificates.importOnNode(from: folder, runner: runner)
        }
        note(true, "import the quorum device's certificates into \(QuorumDeviceCertificates.nodeDatabase)")
    }

    /// 3. The kernel lets haproxy bind VIPs it does not hold yet (persisted, and set now with `sysctl -p`).
    package func allowNonlocalBind(_ profile: KubernetesControlPlaneProfile, note: (Bool, String) -> Void) async throws {
        var sysctl = "# Written by khactl bootstrap: haproxy binds the API VIPs before they arrive.\nnet.ipv4.ip_nonlocal_bind = 1\n"
        if profile.vips.contains(where: { $0.contains(":") }) { sysctl += "net.ipv6.ip_nonlocal_bind = 1\n" }
        let current = try? String(contentsOfFile: options.paths.sysctlFile, encoding: .utf8)
        let live = (try? String(contentsOfFile: options.paths.liveNonlocalBind, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if current == sysctl && live == "1" {
            note(false, "net.ipv4.ip_nonlocal_bind=1 (\(options.paths.sysctlFile))")
            return
        }
        if !options.dryRun {
            try Self.writeAtomically(options.paths.sysctlFile, sysctl, mode: 0o644)
            _ = try await check(Command("sysctl", ["-q", "-p", options.paths.sysctlFile]), "set net.ipv4.ip_nonlocal_bind")
        }
        note(true, "set net.ipv4.ip_nonlocal_bind=1, persisted in \(options.paths.sysctlFile)")
    }

    /// 4. haproxy's configuration; a running haproxy takes a changed one by a soft reload.
    package func writeHAProxyConfig(_ profile: KubernetesControlPlaneProfile, note: (Bool, String) -> Void) async throws {
        guard let haproxy = profile.haproxy else { return }
        let text = HAProxyConfig.render(profile: profile, cluster: cluster)
        if (try? String(contentsOfFile: options.paths.haproxyConfig, encoding: .utf8)) == text {
            note(false, "haproxy configuration \(options.paths.haproxyConfig)")
            return
        }
        if !options.dryRun {
            try Self.writeAtomically(options.paths.haproxyConfig, text, mode: 0o644)
            if host.running("haproxy") { try await reloadHAProxy(haproxy.agent) }
        }
        note(true, "write haproxy configuration \(options.paths.haproxyConfig) (frontend \(profile.vips.map { "\($0):\(profile.frontendPort)" }.joined(separator: ", ")), \(cluster.nodes.count) API servers on :\(profile.apiserverPort))")
    }

    /// 5. A first CIB with a short dc-deadtime, before pacemaker's first start only.
    package func seedFirstCIB(note: (Bool, String) -> Void) async throws {
        guard let deadtime = cluster.dcDeadtime, !FileManager.default.fileExists(atPath: options.paths.cib),
            !host.running("pacemakerd")
        else { return }
        if !options.dryRun { try await seedCIB(dcDeadtime: deadtime) }
        note(true, "seed the first CIB (dc-deadtime \(deadtime))")
    }

    /// 8. The profile and the spec's resources, through the apply engine (safe from every node at once: each
    /// write is a versioned patch, re-planned on conflict).
    package func applyResourceGraph(reloadedHere: Bool, note: (Bool, String) -> Void) async throws -> ApplyResult {
        if let beforeApply = options.beforeApply { try await beforeApply(reloadedHere) }
        var applyOptions = ApplyOptions()
        applyOptions.plan = PlanOptions(prune: options.prune, adopt: options.adopt)
        applyOptions.progress = { [options] in options.progress("bootstrap: apply: \($0)") }
        let result = try await ApplyEngine(options: applyOptions).apply(deployment.spec.configuration)
        if result.written {
            note(true, "apply the resource graph: \(result.plan.steps.count) change\(result.plan.steps.count == 1 ? "" : "s")")
        } else {
            note(false, "resource graph (CIB epoch \(result.plan.baseVersion.epoch))")
        }
        return result
    }

    /// 6. corosync (and corosync-qdevice) and pacemaker: through systemd where it runs (enabled for boot), else
    /// started directly.
    package func startServices(note: (Bool, String) -> Void) async throws {
        if host.systemd {
            for unit in ["corosync"] + (cluster.quorumDevice != nil ? ["corosync-qdevice"] : []) + ["pacemaker"] {
                let active = try await runner.run(Command("systemctl", ["is-active", "--quiet", unit])).succeeded
                let enabled = try await runner.run(Command("systemctl", ["is-enabled", "--quiet", unit])).succeeded
                if active && enabled {
                    note(false, "\(unit) running (systemd)")
                } else {
                    if !options.dryRun {
                        _ = try await check(Command("systemctl", ["enable", "--now", unit], timeout: .seconds(120)), "start \(unit)")
                    }
                    note(true, "enable and start \(unit) (systemd)")
                }
            }
            return
        }
        if host.running("corosync") {
            note(false, "corosync running")
        } else {
            // corosync daemonizes once its IPC is ready.
            if !options.dryRun { _ = try await check(Command("corosync", [], timeout: .seconds(60)), "start corosync") }
            note(true, "start corosync (no systemd here: started directly)")
        }
        if cluster.quorumDevice != nil {
            if host.running("corosync-qdevice") {
                note(false, "corosync-qdevice running")
            } else {
                // corosync-qdevice daemonizes once it has connected to corosync, which must answer on cmap first
                // (corosync daemonizes before all of its services are up).
                if !options.dryRun {
                    let deadline = ContinuousClock.now + .seconds(30)
                    while ContinuousClock.now < deadline {
                        if let cmap = try? CMap() {
                            cmap.close()
                            break
                        }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    _ = try await check(Command("corosync-qdevice", [], timeout: .seconds(60)), "start corosync-qdevice")
                }
                note(true, "start corosync-qdevice (no systemd here: started directly)")
            }
        }
        if host.running("pacemakerd") {
            note(false, "pacemaker running")
        } else {
            if !options.dryRun {
                // pacemakerd stays in the foreground; setsid -f detaches it from this process.
                let log = "/var/log/pacemaker/pacemakerd.out"
                _ = try? FileManager.default.createDirectory(atPath: "/var/log/pacemaker", withIntermediateDirectories: true)
                do {
                    _ = try Daemon.spawn(
                        Command("setsid", ["-f", "pacemakerd"], environment: ["PCMK_logfile": options.paths.pacemakerLog]), log: log)
                } catch {
                    throw BootstrapError("start pacemaker: \(error)")
                }
                let deadline = ContinuousClock.now + .seconds(15)
                while !host.running("pacemakerd") && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                guard host.running("pacemakerd") else { throw BootstrapError("start pacemaker: pacemakerd did not stay up; see \(log)") }
            }
            note(true, "start pacemaker (no systemd here: started directly)")
        }
    }

    /// Makes a running haproxy take its new configuration without dropping connections: a soft reload (the new
    /// process binds, then the old one finishes its connections), through the service manager its agent uses.
    private func reloadHAProxy(_ agent: ResourceAgent) async throws {
        let command: Command
        switch agent.resourceClass {
        case .systemd: command = Command("systemctl", ["reload", agent.type], timeout: .seconds(60))
        case .lsb: command = Command("/etc/init.d/\(agent.type)", ["reload"], timeout: .seconds(60))
        default:
            options.progress("bootstrap: haproxy (\(agent)) is running with an older configuration; reload it (crm_resource --restart --resource haproxy-clone restarts it)")
            return
        }
        _ = try await check(command, "reload haproxy")
        options.progress("bootstrap: haproxy reloaded its configuration (\(command))")
    }

    /// The pcsd route. The spec's first node authenticates to every node's pcsd (`pcs host auth`, the
    /// `hacluster` password on standard input, never in argv) and runs `pcs cluster setup`, which makes the
    /// corosync and pacemaker authkeys and corosync.conf and sends them to every node through pcsd (with
    /// `--enable --start` where systemd runs: `pcs cluster start --all`'s work). Every other node waits for
    /// those files to arrive. Without systemd, each node then starts the services itself (the next step).
    package func setUpThroughPCSD(node: ClusterSpec.Node, passwordFile: String, note: (Bool, String) -> Void) async throws {
        let made = { [options] in
            FileManager.default.fileExists(atPath: options.paths.corosyncConfig)
                && FileManager.default.fileExists(atPath: options.paths.authkey)
        }
        if made() {
            note(false, "cluster set up by pcs (\(options.paths.corosyncConfig), \(options.paths.authkey))")
            return
        }
        guard let first = cluster.nodes.min(by: { $0.nodeID < $1.nodeID }) else { return }
        guard first.name == node.name else {
            if options.dryRun {
                note(true, "wait for \(first.name) to set the cluster up through pcsd")
                return
            }
            options.progress("bootstrap: waiting for \(first.name) to set the cluster up through pcsd (pcs cluster setup)")
            let deadline = ContinuousClock.now + options.timeout
            while !made() {
                guard ContinuousClock.now < deadline else {
                    throw BootstrapError(
                        "pcs cluster setup on \(first.name) did not send corosync.conf and the authkey here within \(options.timeout); "
                            + "is pcsd running on every node and bootstrap running on \(first.name)?")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            note(true, "receive corosync.conf and the authkey from \(first.name) (pcs cluster setup through pcsd)")
            return
        }
        let password = try Self.haclusterPassword(passwordFile)
        var auth = ["host", "auth"]
        for member in cluster.nodes { auth += [member.name, "addr=\(member.addresses[0])"] }
        auth += ["-u", "hacluster"]
        var setup = ["cluster", "setup", cluster.name]
        for member in cluster.nodes { setup += [member.name] + member.addresses.map { "addr=\($0)" } }
        setup += ["transport", "knet"]
        if let heartbeat = cluster.timing.knetHeartbeat {
            for link in 0..<(cluster.nodes.map(\.addresses.count).max() ?? 1) {
                setup += ["link", "linknumber=\(link)", "ping_interval=\(heartbeat.interval)", "ping_timeout=\(heartbeat.timeout)"]
            }
        }
        setup += ["totem", "token=\(cluster.token)", "consensus=\(cluster.consensus)", "token_coefficient=0"]
        if host.systemd { setup += ["--enable", "--start", "--wait=\(Int(options.timeout.components.seconds))"] }
        let hostAuth = Command("pcs", auth, standardInput: Array((password + "\n").utf8), timeout: .seconds(120))
        let clusterSetup = Command("pcs", setup, timeout: .seconds(300))
        if !options.dryRun {
            _ = try await check(hostAuth, "pcs host auth")
            _ = try await check(clusterSetup, "pcs cluster setup")
        }
        note(true, "authenticate to every node's pcsd: \(hostAuth) (the hacluster password on standard input)")
        note(true, "set the cluster up through pcsd: \(clusterSetup)")
    }

    /// The hacluster password in `file`, without surrounding whitespace; one that is missing, unreadable or
    /// empty is an error (checked before anything is written, read again when pcs needs it).
    /// The file must be a regular file owned by root with mode 0600 or narrower, not a link.
    static func haclusterPassword(_ file: String) throws -> String {
        guard FileManager.default.fileExists(atPath: file) else {
            throw BootstrapError("--pcsd-password-file \(file) does not exist, cannot be read, or is empty")
        }
        let data: Data
        do {
            data = try SecureFile.readSecret(file)
        } catch {
            throw BootstrapError("--pcsd-password-file \(error)")
        }
        let password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !password.isEmpty else { throw BootstrapError("--pcsd-password-file \(file) does not exist, cannot be read, or is empty") }
        return password
    }

    func seedCIB(dcDeadtime: String) async throws {
        let empty = try await check(Command("cibadmin", ["--empty"]), "make the first CIB").standardOutput
        let folder = (options.paths.cib as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Self.writeAtomically(options.paths.cib, empty, mode: 0o600)
        _ = try await check(
            Command(
                "crm_attribute", ["--type", "crm_config", "--name", "dc-deadtime", "--update", dcDeadtime],
                environment: ["CIB_file": options.paths.cib]), "seed dc-deadtime")
        if let user = getpwnam("hacluster"), let group = getgrnam("haclient") {
            // Through a descriptor opened without following links: hacluster can write this folder.
            try SecureFile.changeOwner(options.paths.cib, uid: user.pointee.pw_uid, gid: group.pointee.gr_gid)
            chown(folder, user.pointee.pw_uid, group.pointee.gr_gid)
        }
        // pacemaker checks a .sig beside cib.xml only when it exists.
        try? FileManager.default.removeItem(atPath: options.paths.cib + ".sig")
    }

    private func waitForQuorum() async throws {
        let deadline = ContinuousClock.now + options.timeout
        var last = "corosync not answering yet"
        var announced = false
        while ContinuousClock.now < deadline {
            do {
                let quorum = try Quorum()
                defer { quorum.close() }
                if try quorum.isQuorate() { return }
                last = "not quorate"
                if !announced {
                    announced = true
                    let waitForAll = cluster.nodes.count == 2 ? " (a pair waits for both nodes once: wait_for_all)" : ""
                    options.progress("bootstrap: waiting for quorum: start bootstrap on the other nodes too\(waitForAll)")
                }
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BootstrapError("corosync did not become quorate within \(options.timeout) (\(last)); are the other nodes bootstrapped and reachable?")
    }

    private func waitForPacemaker(node: String) async throws {
        let deadline = ContinuousClock.now + options.timeout
        var last = "no answer yet"
        while ContinuousClock.now < deadline {
            if let output = try? await runner.run(Command("crm_mon", ["--output-as=xml", "-1"], timeout: .seconds(10))), output.succeeded,
                let status = try? ClusterStatus(xml: output.standardOutput)
            {
                if status.dc != nil && status.quorate && status.nodes.contains(where: { $0.name == node && $0.online }) { return }
                last = "DC \(status.dc ?? "none"), quorate \(status.quorate)"
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw BootstrapError("pacemaker did not elect a DC with \(node) online within \(options.timeout) (\(last))")
    }

    @discardableResult
    private func check(_ command: Command, _ step: String) async throws -> CommandOutput {
        do {
            return try await runner.check(command)
        } catch {
            throw BootstrapError("\(step): \(error)")
        }
    }

    // MARK: - Helpers

    /// Takes `/run/khactl/locks/bootstrap.lock` (flock, released when the process ends); throws when another
    /// bootstrap holds it.
    static func lock() throws -> Int32 {
        let folder: PrivateFolder
        do { folder = try PrivateFolder.runtime("locks") } catch { throw BootstrapError("cannot use khactl's private folder: \(error)") }
        let path = folder.path + "/bootstrap.lock"
        let fd = open(path, O_CREAT | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BootstrapError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw BootstrapError("another khactl bootstrap is running on this node (it holds \(path)); nothing was changed")
        }
        return fd
    }

    /// Whether systemd is the service manager here.
    static var systemdRuns: Bool { FileManager.default.fileExists(atPath: "/run/systemd/system") }

    /// Whether a process named `name` runs as root (in this PID namespace). Any user can start a process
    /// with any name; only root can start one whose real and effective uid are 0, so others are not counted.
    static func running(_ name: String) -> Bool { !rootProcesses(named: name).isEmpty }

    /// The live (not zombie) processes named `name` whose real and effective uid are 0.
    static func rootProcesses(named name: String) -> [pid_t] {
        var found: [pid_t] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry) else { continue }
            if let comm = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8),
                comm.trimmingCharacters(in: .newlines) == name,
                let status = try? String(contentsOfFile: "/proc/\(entry)/status", encoding: .utf8),
                let uids = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
                uids.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().prefix(2).allSatisfy({ $0 == "0" })
            {
                if let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z"
                {
                    continue
                }
                found.append(pid)
            }
        }
        return found
    }

    /// Writes `text` to `path` with ``SecureFile/write(_:_:mode:owner:)`` (the final mode from the first byte, no
    /// link followed), making the folder first.
    static func writeAtomically(_ path: String, _ text: String, mode: Int, owner: (uid: uid_t, gid: gid_t)? = nil) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        do {
            try SecureFile.write(path, Data(text.utf8), mode: mode_t(mode), owner: owner)
        } catch {
            throw BootstrapError("cannot write \(error)")
        }
    }

    /// The lines only in `old` (-) and only in `new` (+).
    static func lineDiff(_ old: String, _ new: String) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let removed = a.filter { !b.contains($0) }.map { "  - \($0)" }
        let added = b.filter { !a.contains($0) }.map { "  + \($0)" }
        return (removed + added).joined(separator: "\n")
    }
}

extension KubernetesControlPlaneProfile {
    /// What a pair's operators must know, printed by bootstrap and written in README.
    package static let twoNodeTruth = """
        A pair runs with corosync's two_node (which turns on wait_for_all): either node alone keeps quorum when \
        its peer dies, so only fencing decides who survives a split: each node tries to power the other off, and \
        priority-fencing-delay makes the VIP's holder wait (pair-arbiter, on the other node, carries the \
        priority), so the peer wins, the VIP moves once, and a dead holder is fenced at once. wait_for_all means a node \
        that boots alone (after a power cut of both) does not start any resource until it has seen its peer \
        once: a lone rebooted controller waits, by design, rather than risk running the VIP twice. Without \
        working fencing a pair is not safe; keep the fence devices tested (`stonith_admin --list-registered`).
        """
}
