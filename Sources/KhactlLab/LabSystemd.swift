import ArgumentParser
import Pacemaker
import KhactlCore
import ClusterExec
import Foundation

/// Lab hosts that boot systemd (`khactl lab up --systemd`): each node is a `systemd-nspawn` container whose PID 1
/// is the distribution's systemd, over a root of its own: a copy of the host's /etc (with no cluster unit
/// enabled), the folders of the host's /var (empty), and the host's /usr under an overlay whose upper layer is the
/// node's (what the node writes there, khactl in /usr/local/sbin or an OCF agent, stays on its disk). The
/// distribution's units (corosync, pacemaker, pcsd, haproxy) run there exactly as on a controller, started by the
/// commands a real host takes (`systemctl enable --now ...`), and start again on their own when a fenced node boots.
///
/// The container has its own network namespace (`--private-network`); the lab plugs its cable into the switch as
/// for any node, and the node's own unit (khactl-lab-network.service, ordered before network-online.target) gives
/// eth0 its address, as ifupdown does on a controller. Each container runs in a cgroup of its own
/// (`/sys/fs/cgroup/.../khactl-lab/LAB-HASH/nodeN`) that systemd manages below; `--keep-unit --register=no` keep
/// systemd-nspawn from asking the host's systemd (there may be none) for a scope.
extension Lab {
    /// The unit of the stand-in API server in a systemd node (`systemd:khactl-apiserver-standin` in the profile).
    static let standInUnitName = "khactl-apiserver-standin"

    /// The stand-in API server as a systemd unit: haproxy in master-worker mode with the stand-in configuration;
    /// SIGUSR1 is haproxy's soft stop (requests in flight finish), as an API server drains on SIGTERM.
    static let standInUnit = """
        [Unit]
        Description=khactl lab: a stand-in for kube-apiserver (haproxy answering HTTPS /healthz on :6443)
        After=network-online.target

        [Service]
        Type=notify
        ExecStart=/usr/sbin/haproxy -Ws -f \(standInConfig) -p /run/\(standInUnitName).pid
        ExecReload=/bin/kill -USR2 $MAINPID
        KillSignal=SIGUSR1
        KillMode=mixed
        TimeoutStopSec=5s

        """

    /// The node's network unit: waits for the lab to plug in eth0, then gives it the node's address.
    static func networkUnit(address: String) -> String {
        """
        [Unit]
        Description=khactl lab: eth0 up with \(address)/\(LabNetwork.prefix) once the lab has plugged in its cable
        Wants=network.target
        Before=network.target network-online.target

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/sh -c 'ip link set lo up; i=0; until ip link show eth0 >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 1200 ] && exit 1; sleep 0.05; done; ip address replace \(address)/\(LabNetwork.prefix) dev eth0; ip link set eth0 up'

        [Install]
        WantedBy=network-online.target multi-user.target

        """
    }

    /// The name of node `index`'s container (unique on the host: the lab's name is in it).
    func machineName(_ node: LabNodeState) -> String { "khactl-\(name)-\(node.name)" }

    /// The cgroup folders node `node` runs in, one per hierarchy systemd uses: the unified one on a cgroup v2 host;
    /// the named `systemd` one and the unified one (when mounted) on a v1 or hybrid host.
    func cgroupFolders(_ node: LabNodeState) -> [String] {
        Lab.cgroupHierarchies.map { "\($0)/khactl-lab/\(cgroupName)/\(node.name)" }
    }

    /// The lab's cgroup folder name: its name and a hash of its folder (labs of one name under two roots differ).
    var cgroupName: String {
        var hash: UInt32 = 2_166_136_261
        for byte in folder.path.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return "\(name)-\(String(hash, radix: 16))"
    }

    static var cgroupHierarchies: [String] {
        // cgroup v2 mounted at /sys/fs/cgroup has its controllers file there; a v1 or hybrid host has a tmpfs there.
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") { return ["/sys/fs/cgroup"] }
        return ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"].filter { FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") }
    }

    /// Why systemd nodes cannot run here, or nil.
    static func systemdNodesUnsupported() -> String? {
        if Daemon.resolve("systemd-nspawn") == "systemd-nspawn" {
            return "systemd-nspawn is not installed (Debian's systemd-container; Scripts/install-deps.sh installs it)"
        }
        if !FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd") {
            return "this host has no /lib/systemd/systemd to boot in the nodes"
        }
        if !Lab.cgroupHierarchies.contains(where: { $0.hasSuffix("/systemd") || $0 == "/sys/fs/cgroup" }) {
            return "this host mounts neither cgroup v2 nor the named systemd cgroup v1 hierarchy; systemd cannot run in a node"
        }
        return nil
    }

    // MARK: - The node's disk

    /// Makes node `node`'s root file system (a fresh controller with the packages installed and no cluster) unless
    /// it has one: the disk survives power cycles; `lab revive --wipe` removes it first.
    func prepareSystemdRoot(_ node: LabNodeState) async throws {
        let root = store.nodeFolder(node.index)
        let fm = FileManager.default
        if fm.fileExists(atPath: root.appendingPathComponent("etc/machine-id").path) { return }
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        // /etc: the host's, as the packages left it.
        try await runner.check(Command("cp", ["-a", "/etc", root.appendingPathComponent("etc").path], timeout: .seconds(120)))
        let etc = root.appendingPathComponent("etc")
        for file in ["corosync/corosync.conf", "corosync/authkey", "pacemaker/authkey", "machine-id"] {
            try? fm.removeItem(at: etc.appendingPathComponent(file))
        }
        // No unit the host enabled is enabled in the node: a controller's cluster units are enabled by bootstrap,
        // and the host's other choices (its databases, timers, gettys) are not the node's. The node boots
        // systemd's static units and its network unit, whatever host the lab runs on.
        let units = etc.appendingPathComponent("systemd/system")
        for folder in (try? fm.contentsOfDirectory(atPath: units.path)) ?? [] where folder.hasSuffix(".wants") || folder.hasSuffix(".requires") {
            try fm.removeItem(at: units.appendingPathComponent(folder))
        }
        // A container has no console to log in on.
        for unit in ["console-getty.service", "getty@.service"] {
            let path = units.appendingPathComponent(unit).path
            try? fm.removeItem(atPath: path)
            try fm.createSymbolicLink(atPath: path, withDestinationPath: "/dev/null")
        }
        try Lab.replaceFile(etc.appendingPathComponent("machine-id").path, with: Data((Lab.randomHex(16) + "\n").utf8), mode: 0o444)
        try Lab.replaceFile(etc.appendingPathComponent("hostname").path, with: Data((node.name + "\n").utf8), mode: 0o644)
        let network = units.appendingPathComponent("khactl-lab-network.service")
        try Lab.replaceFile(network.path, with: Data(Lab.networkUnit(address: node.address).utf8), mode: 0o644)
        for target in ["network-online.target.wants", "multi-user.target.wants"] {
            let wants = units.appendingPathComponent(target)
            try fm.createDirectory(at: wants, withIntermediateDirectories: true)
            try? fm.removeItem(at: wants.appendingPathComponent("khactl-lab-network.service"))
            try fm.createSymbolicLink(
                atPath: wants.appendingPathComponent("khactl-lab-network.service").path,
                withDestinationPath: "/etc/systemd/system/khactl-lab-network.service")
        }
        // /var: the host's folders (owners and modes as the packages made them), no files.
        try Lab.copyFolders(from: "/var", to: root.appendingPathComponent("var").path)
        let journal = root.appendingPathComponent("var/log/journal").path
        try fm.createDirectory(atPath: journal, withIntermediateDirectories: true)
        chown(journal, 0, getgrnam("systemd-journal")?.pointee.gr_gid ?? 0)
        chmod(journal, 0o2755)
        // /usr is the host's under an overlay; its upper layer starts with os-release, which systemd-nspawn looks for.
        let usrLib = root.appendingPathComponent("usr/lib")
        try fm.createDirectory(at: usrLib, withIntermediateDirectories: true)
        try fm.copyItem(atPath: "/usr/lib/os-release", toPath: usrLib.appendingPathComponent("os-release").path)
        // The upper layer has the lab's OCF agents' folder (installNodeFiles writes there) and /usr/local's.
        for folder in ["bin", "sbin", "lib", "share", "etc", "include", "src"] {
            try fm.createDirectory(at: root.appendingPathComponent("usr/local/\(folder)"), withIntermediateDirectories: true)
        }
        try fm.createDirectory(at: root.appendingPathComponent("usr/lib/ocf/resource.d/khactl"), withIntermediateDirectories: true)
        // The top level: the host's links into /usr (merged /usr), and the usual mount points.
        for entry in try fm.contentsOfDirectory(atPath: "/") {
            if let target = try? fm.destinationOfSymbolicLink(atPath: "/" + entry), target.hasPrefix("usr/") {
                try fm.createSymbolicLink(atPath: root.appendingPathComponent(entry).path, withDestinationPath: target)
            }
        }
        for (folder, mode) in [("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("run", 0o755), ("tmp", 0o1777), ("root", 0o700),
            ("home", 0o755), ("srv", 0o755), ("mnt", 0o755), ("opt", 0o755), ("media", 0o755)]
        {
            let path = root.appendingPathComponent(folder).path
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            chmod(path, mode_t(mode))
        }
        try LabNode.prepareOwnership(root)
        try fm.createDirectory(at: root.appendingPathComponent("etc/khactl"), withIntermediateDirectories: true)
        chmod(root.appendingPathComponent("etc/khactl").path, 0o700)
    }

    /// Copies the folder tree under `source` (folders and links, no files) to `destination`, with owners and modes.
    /// Package databases and caches stay out.
    static func copyFolders(from source: String, to destination: String) throws {
        let skipped: Set<String> = ["cache", "lib/apt", "lib/dpkg", "lib/postgresql", "lib/docker", "lib/containerd", "backups", "mail", "spool/postfix", "lib/machines"]
        func copy(_ relative: String) throws {
            let from = relative.isEmpty ? source : source + "/" + relative
            let to = relative.isEmpty ? destination : destination + "/" + relative
            var info = stat()
            guard lstat(from, &info) == 0 else { return }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: from)
                try FileManager.default.createSymbolicLink(atPath: to, withDestinationPath: target)
                return
            }
            guard (info.st_mode & S_IFMT) == S_IFDIR else { return }
            if mkdir(to, 0o700) != 0 && errno != EEXIST { throw LabError("cannot make \(to): \(String(cString: strerror(errno)))") }
            chown(to, info.st_uid, info.st_gid)
            chmod(to, info.st_mode & 0o7777)
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: from)) ?? [] {
                let child = relative.isEmpty ? entry : relative + "/" + entry
                if skipped.contains(child) { continue }
                try copy(child)
            }
        }
        try copy("")
    }

    static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// The folders khactl's executable needs inside a node, read-only at the same paths: its own and those of the
    /// shared libraries it loads from outside /usr (a toolchain's Swift runtime, for a build that is not static).
    func executableFolders() async throws -> [String] {
        let executable = Lab.executable
        var folders = [(executable as NSString).deletingLastPathComponent]
        let output = try await runner.run(Command("ldd", [executable]))
        for line in output.standardOutput.split(separator: "\n") {
            guard let arrow = line.range(of: "=> /") else { continue }
            let path = line[line.index(before: arrow.upperBound)...].split(separator: " ").first.map(String.init) ?? ""
            let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map {
                $0.hasPrefix("/") ? $0 : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent($0)
            } ?? path
            for file in [path, resolved] {
                let folder = (file as NSString).deletingLastPathComponent
                let underUsr = ["/usr/", "/lib/", "/lib64/", "/lib32/", "/libx32/"].contains { folder.hasPrefix($0) || folder + "/" == $0 }
                if !underUsr && !folders.contains(folder) { folders.append(folder) }
            }
        }
        return folders
    }

    // MARK: - Power

    /// Boots node `node` with systemd as its PID 1 (see the type's comment); returns systemd-nspawn (the holder)
    /// and the node's systemd (its init), recorded through `record` as soon as each runs. Returns once systemd has
    /// finished booting (`systemctl is-system-running --wait`).
    func bootSystemdHost(
        _ node: LabNodeState, switchHolder: ProcessIdentity?, record: (ProcessIdentity, ProcessIdentity?) throws -> Void
    ) async throws -> (holder: ProcessIdentity, initProcess: ProcessIdentity) {
        guard let switchHolder, switchHolder.isAlive else { throw LabError("lab \(name) has no switch") }
        try await prepareSystemdRoot(node)
        let root = store.nodeFolder(node.index)
        removeCgroups(node)
        var arguments = ["lab", "cgroup-exec"]
        for folder in cgroupFolders(node) { arguments += ["--cgroup", folder] }
        arguments += [
            "--", "systemd-nspawn", "--quiet", "--boot", "--directory=\(root.path)", "--machine=\(machineName(node))",
            "--hostname=\(node.name)", "--register=no", "--keep-unit", "--private-network", "--capability=all",
            "--settings=no", "--link-journal=no", "--resolv-conf=off", "--timezone=off", "--console=passive",
            // The host's /usr below, the node's own usr folder above: what the node installs stays on its disk.
            "--overlay=/usr:\(root.path)/usr:/usr",
        ]
        for folder in try await executableFolders() { arguments.append("--bind-ro=\(folder)") }
        let log = folder.appendingPathComponent("\(node.name)-console.log").path
        // systemd-nspawn can refuse to start while the last container of this node is still being torn down (its
        // directory lock, the overlay's upper layer): a few tries, each with the reason it gave.
        var reasons: [String] = []
        var booted: (holder: ProcessIdentity, initProcess: ProcessIdentity)?
        for attempt in 1...3 where booted == nil {
            let offset = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
            let holder = try Daemon.spawn(Command(Lab.executable, arguments), log: log)
            try record(holder, nil)
            var found: ProcessIdentity?
            let deadline = ContinuousClock.now + .seconds(60)
            while found == nil, ContinuousClock.now < deadline, holder.isAlive {
                found = containerInit(node)
                if found == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            if let found {
                booted = (holder, found)
                break
            }
            let alive = holder.isAlive
            holder.killAndWait()
            removeCgroups(node)
            let console = FileManager.default.contents(atPath: log).map { String(decoding: $0.dropFirst(offset), as: UTF8.self) } ?? ""
            let last = console.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty } ?? "no output"
            reasons.append("try \(attempt): \(alive ? "no container init within 60 s" : "systemd-nspawn exited"): \(last)")
            try await Task.sleep(for: .milliseconds(500))
        }
        guard let (holder, initProcess) = booted else {
            throw LabError("systemd-nspawn did not boot \(node.name) (\(reasons.joined(separator: "; "))); its console: \(log)")
        }
        try record(holder, initProcess)
        try await waitForNamespace(of: initProcess.pid)
        try await ipBatch(in: "/proc/\(switchHolder.pid)/ns/net", [
            "link add s\(node.index) type veth peer name eth0 netns \(initProcess.pid)",
            "link set s\(node.index) master br0",
            "link set s\(node.index) up",
        ])
        // Boot finished: every unit wanted at boot has started (or failed: the node then reports degraded).
        // Until its manager listens, systemctl answers nothing (and says why on stderr).
        var answer = ""
        let bootDeadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < bootDeadline {
            let state = try await runner.run(
                Command("nsenter", Lab.enter(initProcess, ["systemctl", "is-system-running", "--wait"]), timeout: .seconds(120)))
            answer = state.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            // "offline": no manager answers yet (its private socket is not there).
            if (!answer.isEmpty && answer != "offline") || !initProcess.isAlive { break }
            answer = state.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            try await Task.sleep(for: .milliseconds(20))
        }
        guard answer == "running" || answer == "degraded" else {
            throw LabError("\(node.name) did not finish booting: systemd says \"\(answer)\"; see `khactl lab exec \(node.name) -- journalctl -b`")
        }
        return (holder, initProcess)
    }

    /// The node's systemd: the process in the node's cgroups whose PID in its own namespace is 1, once it runs
    /// systemd (before, it is systemd-nspawn's code setting the container up). Found by cgroup, not by parentage
    /// (nspawn's child forks it, and who its parent is then depends on nspawn's version).
    func containerInit(_ node: LabNodeState) -> ProcessIdentity? {
        guard let top = cgroupFolders(node).first else { return nil }
        var folders = [top]
        if let walker = FileManager.default.enumerator(atPath: top) {
            while let entry = walker.nextObject() as? String {
                if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { folders.append(top + "/" + entry) }
            }
        }
        for folder in folders {
            let procs = (try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) {
                guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") })
                else { continue }
                let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
                if fields.count >= 3, fields.last == "1", comm == "systemd", let identity = ProcessIdentity.of(pid) { return identity }
            }
        }
        return nil
    }

    /// Removes the cgroups of node `node` (once its processes are gone), deepest first.
    func removeCgroups(_ node: LabNodeState) {
        for top in cgroupFolders(node) {
            guard let walker = FileManager.default.enumerator(atPath: top) else { continue }
            var folders: [String] = []
            while let entry = walker.nextObject() as? String {
                if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { folders.append(top + "/" + entry) }
            }
            folders = folders.sorted(by: { $0.count > $1.count }) + [top]
            // Whatever still runs in the node's cgroups is the node's (the lab started it there): a container left
            // by a khactl killed half-way, or one whose PIDs were never recorded, is ended here.
            var killed = false
            for folder in folders {
                let procs = (try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8)) ?? ""
                for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) {
                    if let process = ProcessIdentity.of(pid), process.signal(SIGKILL) { killed = true }
                }
            }
            // A cgroup stays busy until its last process is reaped (by systemd-nspawn, or by init): at most 2 s.
            let deadline = ContinuousClock.now + (killed ? .seconds(2) : .milliseconds(200))
            for folder in folders {
                while rmdir(folder) != 0 && errno == EBUSY && ContinuousClock.now < deadline { usleep(10_000) }
            }
        }
        // The overlay's work folders of /usr (systemd-nspawn makes one per boot and cannot remove it once killed).
        let root = store.nodeFolder(node.index)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] where entry.hasPrefix(".#usr") {
            try? FileManager.default.removeItem(at: root.appendingPathComponent(entry))
        }
        // systemd-nspawn's folders on the host for the container (it cannot remove them where /run is no tmpfs).
        for folder in ["/run/systemd/nspawn/propagate/\(machineName(node))", "/run/systemd/nspawn/unix-export/\(machineName(node))"] {
            try? FileManager.default.removeItem(atPath: folder)
        }
    }
}

/// `khactl lab cgroup-exec`: moves itself into cgroups (made if missing), then runs a command there. The lab starts
/// each systemd node this way, so that the node's systemd manages a cgroup tree of its own.
package struct LabCgroupExec: ParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "cgroup-exec", shouldDisplay: false)

    @Option(help: "A cgroup folder (repeat: one per hierarchy).") package var cgroup: [String] = []
    @Argument(parsing: .captureForPassthrough) package var command: [String] = []

    package init() {}

    package func run() throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard let program = argv.first else { throw ValidationError("no command to run") }
        for folder in cgroup {
            guard folder.hasPrefix("/sys/fs/cgroup/"), !folder.contains("..") else { throw ValidationError("\(folder) is not a cgroup folder") }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let pid = "\(getpid())\n"
            let fd = open(folder + "/cgroup.procs", O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0, pid.withCString({ write(fd, $0, strlen($0)) }) > 0 else {
                throw LabError("cannot enter cgroup \(folder): \(String(cString: strerror(errno)))")
            }
            close(fd)
        }
        var cArguments = argv.map { strdup($0) } + [nil]
        execvp(program, &cArguments)
        throw LabError("cannot run \(program): \(String(cString: strerror(errno)))")
    }
}
