import Pacemaker
import KhactlCore
import ClusterExec
import Foundation

/// A real N-node corosync + pacemaker cluster on this host, each node a set of namespaces (network,
/// mount, UTS, IPC, PID) with private state folders, joined by a bridge in a switch namespace of the
/// lab's own. Nothing is created in the root namespace, and nothing sends traffic anywhere but the lab's
/// own addresses.
package struct Lab: Sendable {
    /// The lab's name (several labs with different names run side by side).
    package let name: String
    /// Where the lab keeps its state and its nodes' disks.
    package let folder: URL
    let runner: any CommandRunner
    let store: LabStore

    /// The default folder of all labs: `$KHACTL_LAB_ROOT`, or /var/lib/khactl/lab.
    package static var defaultRoot: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["KHACTL_LAB_ROOT"] ?? "/var/lib/khactl/lab")
    }

    /// The lab called `name` under `root`.
    package init(name: String = "lab", root: URL = Lab.defaultRoot, runner: any CommandRunner = SubprocessRunner()) throws {
        guard name.range(of: #"^[a-z][a-z0-9-]{0,15}$"#, options: .regularExpression) != nil else {
            throw LabError("invalid lab name \"\(name)\": use 1-16 characters a-z, 0-9 and -, starting with a letter")
        }
        self.name = name
        self.folder = root.appendingPathComponent(name)
        self.runner = runner
        self.store = LabStore(folder: folder)
    }

    /// The khactl executable that lab helpers (node init, BMCs) run.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    // MARK: - Commands inside the lab

    /// `nsenter` arguments that enter every namespace of node `init`, for `argv`.
    static func enter(_ initProcess: ProcessIdentity, _ argv: [String]) -> [String] {
        // The node's root (a systemd node's is its own disk), and / in it as the working folder.
        ["-t", String(initProcess.pid), "--net", "--mount", "--uts", "--ipc", "--pid", "--root", "--wdns=/", "--"] + argv
    }

    /// A command that runs `argv` inside node `index`.
    package func nodeCommand(_ index: Int, _ argv: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) throws -> Command {
        let state = try store.load()
        guard let node = index == Lab.witnessIndex ? state.witness : state.nodes.first(where: { $0.index == index }) else {
            throw LabError("lab \(name) has no node\(index)")
        }
        guard let initProcess = node.initProcess, initProcess.isAlive else {
            throw LabError("\(node.name) of lab \(name) is powered off")
        }
        return Command("nsenter", Lab.enter(initProcess, argv), environment: environment, timeout: timeout)
    }

    /// A command that runs `argv` in the switch namespace (the lab client's side of the network).
    package func switchCommand(_ argv: [String], timeout: Duration = .seconds(60)) throws -> Command {
        let state = try store.load()
        guard let holder = state.switchHolder, holder.isAlive else { throw LabError("lab \(name) is not up") }
        return Command("nsenter", ["--net=/proc/\(holder.pid)/ns/net", "--"] + argv, timeout: timeout)
    }

    /// The network namespace file of node `index` (for the Corosync library's endpoints).
    package func networkNamespace(of index: Int) throws -> String {
        let state = try store.load()
        guard let initProcess = state.nodes.first(where: { $0.index == index })?.initProcess, initProcess.isAlive else {
            throw LabError("node\(index) of lab \(name) is powered off")
        }
        return "/proc/\(initProcess.pid)/ns/net"
    }

    /// The switch namespace's network namespace file.
    package func switchNamespace() throws -> String {
        guard let holder = try store.load().switchHolder, holder.isAlive else { throw LabError("lab \(name) is not up") }
        return "/proc/\(holder.pid)/ns/net"
    }

    /// The lab's state as last saved.
    package func state() throws -> LabState { try store.load() }

    /// Whether this lab has state on disk.
    package var exists: Bool { store.exists }

    /// Parses `nodeI` (or `I`) into an index of this lab.
    package func nodeIndex(_ text: String) throws -> Int {
        let digits = text.hasPrefix("node") ? String(text.dropFirst(4)) : text
        let state = try store.load()
        if text == "witness", state.witness != nil { return Lab.witnessIndex }
        guard let index = Int(digits), state.nodes.contains(where: { $0.index == index }) else {
            throw LabError("lab \(name) has no node \"\(text)\" (it has \(state.nodes.map(\.name).joined(separator: ", ")))")
        }
        return index
    }
}

// MARK: - up

extension Lab {
    /// Options of ``up(nodes:token:consensus:progress:)``.
    package struct UpOptions: Sendable {
        /// 1 to 9 nodes (one node: a single-node cluster for apply tests; drills need two or more).
        package var nodes = 3
        /// corosync's token, ms.
        package var token = 1000
        /// corosync's consensus, ms.
        package var consensus = 1200
        /// Fencing with a lab BMC per node and fence_redfish.
        package var fencing = true
        /// How long to wait for every node to be online in pacemaker.
        package var timeout: Duration = .seconds(90)
        /// A witness host (`witness`, 198.18.0.10) for a quorum device: `khactl witness init` runs corosync-qnetd
        /// there (`lab bootstrap --quorum-device` does it).
        package var witness = false
        /// Bare controllers: namespaces, network and BMCs, but no cluster files and no corosync or pacemaker;
        /// `khactl lab bootstrap` (khactl bootstrap on every node) makes the cluster.
        package var bare = false
        /// Nodes (and the witness) that boot systemd as their PID 1 (see ``Lab/bootSystemdHost``); goes with `bare`.
        package var systemd = false

        /// Default options.
        package init() {}
    }

    /// Brings the lab up and waits until every node is online in pacemaker with quorum.
    package func up(_ options: UpOptions = UpOptions(), progress: @Sendable (String) -> Void = { _ in }) async throws {
        try Lab.requireRoot()
        guard (1...9).contains(options.nodes) else { throw LabError("--nodes must be 1 to 9, not \(options.nodes)") }
        guard options.token >= 200, options.consensus >= options.token else {
            throw LabError("--token must be at least 200 ms and --consensus at least the token")
        }
        if options.systemd {
            guard options.bare else { throw LabError("--systemd goes with --bare: khactl bootstrap makes the cluster through systemctl") }
            if let reason = Lab.systemdNodesUnsupported() { throw LabError("cannot boot systemd in lab nodes: \(reason)") }
        }
        try await store.locked {
            if store.exists {
                let old = try store.load()
                if old.switchHolder?.isAlive == true {
                    throw LabError("lab \(name) is already up; `khactl lab down --name \(name)` first")
                }
                progress("removing what is left of an earlier lab \(name)")
                try await teardown(old)
            }
            try removeContents(keeping: store.lockFile)
            // A node that boots systemd has a disk with a copy of /etc/shadow and a 1777 /tmp: no other user reaches it.
            if options.systemd { chmod(folder.path, 0o700) }
            var state = LabState(
                name: name, token: options.token, consensus: options.consensus, switchHolder: nil,
                nodes: (1...options.nodes).map {
                    LabNodeState(name: "node\($0)", index: $0, address: LabNetwork.nodeAddress($0))
                }, systemd: options.systemd ? true : nil)
            try store.save(state)
            do {
                progress("switch: bridge 198.18.0.0/24, client \(LabNetwork.client)")
                try await startSwitch(&state)
                if options.bare {
                    try await writeBareFolders(state)
                } else {
                    try await writeClusterFiles(state, fencing: options.fencing)
                }
                if options.fencing {
                    progress("BMCs: Redfish over HTTPS on \(state.nodes.map(\.bmcAddress).joined(separator: ", "))")
                    try await startBMCs(&state)
                }
                for index in 1...options.nodes {
                    let kind = options.systemd ? "systemd-nspawn, systemd" : "namespaces"
                    progress("node\(index): \(kind), \(LabNetwork.nodeAddress(index))\(options.bare ? " (bare: no cluster yet)" : ", corosync, pacemaker")")
                    try await startNode(index, &state)
                }
                if options.witness {
                    progress("witness: namespaces, \(LabNetwork.nodeAddress(Lab.witnessIndex)) (corosync-qnetd once `khactl witness init` runs there)")
                    var witness = LabNodeState(name: "witness", index: Lab.witnessIndex, address: LabNetwork.nodeAddress(Lab.witnessIndex))
                    try await makeEmptyDisk(witness, systemd: options.systemd)
                    let boot = options.systemd ? bootSystemdHost : bootHost
                    let (holder, initProcess) = try await boot(witness, state.switchHolder) { holder, initProcess in
                        witness.holder = holder
                        witness.initProcess = initProcess
                        state.witness = witness
                        try store.save(state)
                    }
                    witness.holder = holder
                    witness.initProcess = initProcess
                    state.witness = witness
                    try store.save(state)
                }
            } catch {
                progress("lab up failed; removing what was started")
                try? await teardown(state)
                try? removeContents(keeping: store.lockFile)
                throw error
            }
        }
        if options.bare { return }
        progress("waiting until every node is online in pacemaker")
        try await waitUntilOnline(count: options.nodes, timeout: options.timeout)
    }

    private func startSwitch(_ state: inout LabState) async throws {
        let holder = try Daemon.spawn(
            Command("unshare", ["--net", "--uts", "--", Lab.executable, "lab", "init", "--hostname", "switch"]),
            log: folder.appendingPathComponent("switch.log").path)
        state.switchHolder = holder
        try store.save(state)
        try await waitForNamespace(of: holder.pid)
        var script = [
            "link set lo up",
            "link add br0 type bridge forward_delay 0",
            // A bridge takes the lowest MAC of its ports unless given one; nodes come and go, and a MAC
            // that changes under the BMC and client addresses leaves stale ARP entries in every node
            // (fencing then hangs for the ARP timeout, about 30 s).
            "link set br0 address 02:00:c6:12:00:02",
            "link set br0 up",
            "address add \(LabNetwork.client)/\(LabNetwork.prefix) dev br0",
        ]
        for node in state.nodes {
            script.append("address add \(node.bmcAddress)/\(LabNetwork.prefix) dev br0")
        }
        try await ipBatch(in: "/proc/\(holder.pid)/ns/net", script)
    }

    /// Runs `ip -batch -` with `lines` inside the network namespace `path`.
    func ipBatch(in path: String, _ lines: [String]) async throws {
        try await runner.check(
            Command("nsenter", ["--net=\(path)", "--", "ip", "-batch", "-"], standardInput: Array((lines.joined(separator: "\n") + "\n").utf8)))
    }

    /// Every node's empty disk: a controller with the packages installed and nothing else.
    private func writeBareFolders(_ state: LabState) async throws {
        try writeBMCPassword()
        for node in state.nodes { try await makeEmptyDisk(node, systemd: state.bootsSystemd) }
    }

    /// Node `node`'s empty disk: for a node that boots systemd its root file system (``prepareSystemdRoot(_:)``),
    /// else its private folders, with pacemaker's owners.
    func makeEmptyDisk(_ node: LabNodeState, systemd: Bool) async throws {
        if systemd { return try await prepareSystemdRoot(node) }
        let root = store.nodeFolder(node.index)
        for path in LabNode.privateFolders {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(path), withIntermediateDirectories: true)
        }
        try LabNode.prepareOwnership(root)
    }

    /// The lab BMCs' password, in a 0400 file of the lab's folder.
    @discardableResult
    private func writeBMCPassword() throws -> String {
        let password = Lab.randomPassword()
        try Lab.replaceFile(folder.appendingPathComponent("bmc-password").path, with: Data(password.utf8), mode: 0o400)
        return password
    }

    /// A random password of 24 characters that are easy to read back (no 0/o, 1/l).
    static func randomPassword() -> String {
        String((0..<24).map { _ in "abcdefghijkmnpqrstuvwxyz23456789".randomElement()! })
    }

    /// Writes `path` anew with `mode`, through ``SecureFile/write(_:_:mode:owner:)``.
    static func replaceFile(_ path: String, with data: Data, mode: Int, owner: (uid: uid_t, gid: gid_t)? = nil) throws {
        do {
            try SecureFile.write(path, data, mode: mode_t(mode), owner: owner)
        } catch {
            throw LabError("cannot write \(error)")
        }
    }

    /// Folders, configuration, authkey and first CIB of every node (each node's private "disk").
    private func writeClusterFiles(_ state: LabState, fencing: Bool) async throws {
        let key = try AuthKey.generate().bytes
        let config = CorosyncConfig(
            clusterName: name,
            nodes: state.nodes.map { CorosyncConfig.Node(name: $0.name, nodeID: UInt32($0.index), addresses: [$0.address]) },
            token: state.token, consensus: state.consensus, tokenCoefficient: 0)
        let password = try writeBMCPassword()
        let cib = try await LabCIB.initial(clusterName: name, nodes: state.nodes, fencing: fencing, bmcPassword: String(password))
        for node in state.nodes {
            let root = store.nodeFolder(node.index)
            try await makeEmptyDisk(node, systemd: false)
            try Lab.replaceFile(root.appendingPathComponent("etc/corosync/corosync.conf").path, with: Data(config.render().utf8), mode: 0o644)
            try Lab.replaceFile(root.appendingPathComponent("etc/corosync/authkey").path, with: Data(key), mode: 0o400)
            try Lab.replaceFile(
                root.appendingPathComponent("var/lib/pacemaker/cib/cib.xml").path, with: Data(cib.utf8), mode: 0o600,
                owner: LabNode.hacluster)
        }
    }

    /// The witness's index (it is no controller: no BMC, no cluster).
    static let witnessIndex = 0

    /// Boots a lab host: its namespaces (the holder, then its init, recorded through `record` as soon as each runs,
    /// so that `lab down` finds them even if this fails or is killed half-way: killing the holder alone leaves
    /// the init alive), its private folders, /dev/shm, its link on the switch and address.
    func bootHost(
        _ node: LabNodeState, switchHolder: ProcessIdentity?, record: (ProcessIdentity, ProcessIdentity?) throws -> Void
    ) async throws -> (holder: ProcessIdentity, initProcess: ProcessIdentity) {
        guard let switchHolder, switchHolder.isAlive else { throw LabError("lab \(name) has no switch") }
        let index = node.index
        let root = store.nodeFolder(index)
        let log = root.appendingPathComponent("var/log/khactl-node.log").path
        let holder = try Daemon.spawn(
            Command("unshare", [
                "--net", "--mount", "--uts", "--ipc", "--pid", "--fork", "--mount-proc", "--propagation", "private", "--",
                Lab.executable, "lab", "init", "--hostname", node.name,
            ]),
            log: log)
        try record(holder, nil)
        let initProcess = try await waitForChild(of: holder)
        try record(holder, initProcess)
        try await waitForNamespace(of: initProcess.pid)

        // Private folders over the host's, and a private /dev/shm (corosync's PID is the same in every
        // node's PID namespace, so its shared-memory files would collide).
        // /run is a tmpfs on a real machine: a node boots with it empty (a stale pidfile from before a crash
        // would make an agent's probe report an error).
        let run = root.appendingPathComponent("run")
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: run.path)) ?? [] {
            try? FileManager.default.removeItem(at: run.appendingPathComponent(entry))
        }
        // A mount point the host lacks (/etc/khactl on a machine that never ran bootstrap) is made empty.
        for path in LabNode.privateFolders where !FileManager.default.fileExists(atPath: "/" + path) {
            try FileManager.default.createDirectory(atPath: "/" + path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var mounts: [[String]] = LabNode.privateFolders.map { ["mount", "--bind", root.appendingPathComponent($0).path, "/" + $0] }
        mounts.append(["mount", "-t", "tmpfs", "-o", "mode=1777,size=256m", "tmpfs", "/dev/shm"])
        for argv in mounts {
            try await runner.check(Command("nsenter", Lab.enter(initProcess, argv)))
        }
        try await ipBatch(in: "/proc/\(switchHolder.pid)/ns/net", [
            "link add s\(index) type veth peer name eth0 netns \(initProcess.pid)",
            "link set s\(index) master br0",
            "link set s\(index) up",
        ])
        try await ipBatch(in: "/proc/\(initProcess.pid)/ns/net", [
            "link set lo up",
            "address add \(LabNetwork.nodeAddress(index))/\(LabNetwork.prefix) dev eth0",
            "link set eth0 up",
        ])
        return (holder, initProcess)
    }

    /// Powers node `index` on: namespaces, mounts, link, addresses, corosync and pacemaker.
    func startNode(_ index: Int, _ state: inout LabState) async throws {
        guard let position = state.nodes.firstIndex(where: { $0.index == index }) else { throw LabError("no node\(index)") }
        let root = store.nodeFolder(index)
        let boot = state.bootsSystemd ? bootSystemdHost : bootHost
        let (holder, initProcess) = try await boot(state.nodes[position], state.switchHolder) { holder, initProcess in
            state.nodes[position].holder = holder
            state.nodes[position].initProcess = initProcess
            try store.save(state)
        }
        state.nodes[position].holder = holder
        state.nodes[position].initProcess = initProcess
        state.nodes[position].fault = nil
        try store.save(state)
        // A node that boots systemd has started what its units enable (bootstrap enabled the cluster's).
        if state.bootsSystemd { return }
        // A node bootstrapped through pcsd runs pcsd from boot, as its unit would.
        try await startPCSD(initProcess, root: root)
        // A bare node (no corosync.conf on its "disk" yet) waits for `khactl lab bootstrap`; a bootstrapped one
        // boots its cluster stack as a controller would.
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/corosync/corosync.conf").path) else { return }
        // VIPs are bound by haproxy on every node before they arrive (the Kubernetes profile needs it); a
        // bootstrapped node has it in its own /etc/sysctl.d.
        let sysctlFile = root.appendingPathComponent("etc/sysctl.d/90-khactl.conf").path
        let sysctl = FileManager.default.fileExists(atPath: sysctlFile) ? ["sysctl", "-q", "-p", "/etc/sysctl.d/90-khactl.conf"] : ["sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1"]
        try await runner.check(Command("nsenter", Lab.enter(initProcess, sysctl)))
        // corosync daemonizes once it is ready; pacemakerd always runs in the foreground, so setsid -f
        // detaches it and the node's init becomes its parent.
        try await runner.check(Command("nsenter", Lab.enter(initProcess, ["corosync"]), timeout: .seconds(30)))
        // A node with a quorum device boots corosync-qdevice after corosync, as its unit would (once corosync
        // answers on cmap).
        let conf = (try? String(contentsOf: root.appendingPathComponent("etc/corosync/corosync.conf"), encoding: .utf8)) ?? ""
        if conf.contains("model: net") {
            let deadline = ContinuousClock.now + .seconds(30)
            while try await !runner.run(Command("nsenter", Lab.enter(initProcess, ["corosync-cmapctl", "-g", "totem.cluster_name"]))).succeeded,
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(100))
            }
            try await runner.check(Command("nsenter", Lab.enter(initProcess, ["corosync-qdevice"]), timeout: .seconds(30)))
        }
        let pacemaker = try Daemon.spawn(
            Command("nsenter", Lab.enter(initProcess, ["setsid", "-f", "pacemakerd"]),
                environment: ["PCMK_logfile": "/var/log/pacemaker/pacemaker.log", "PCMK_debug": "no"]),
            log: root.appendingPathComponent("var/log/pacemaker/pacemakerd.out").path)
        try await waitUntilGone(pacemaker, timeout: .seconds(10))
    }

    /// Waits until every node is online in the DC's view and the partition has quorum: `count` nodes, or (nil)
    /// every node pacemaker knows (a lab whose cluster has only some of its nodes).
    package func waitUntilOnline(count wanted: Int?, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = "no answer yet"
        while ContinuousClock.now < deadline {
            if let status = try? await clusterStatus() {
                let count = wanted ?? status.nodes.count
                let online = status.nodes.filter(\.online).count
                if online == count && status.quorate && status.dc != nil { return }
                last = "\(online) of \(count) online, quorate \(status.quorate), DC \(status.dc ?? "none")"
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw LabError("lab \(name): pacemaker did not bring every node online within \(timeout) (\(last))")
    }
}

// MARK: - faults

extension Lab {
    /// Injects `fault` into node `index`.
    package func kill(_ index: Int, _ fault: LabFault) async throws {
        try Lab.requireRoot()
        try await store.locked {
            var state = try store.load()
            guard let position = state.nodes.firstIndex(where: { $0.index == index }) else { throw LabError("lab \(name) has no node\(index)") }
            let node = state.nodes[position]
            // A crash (power off, as a BMC does when fencing) overrides any other fault.
            if let current = node.fault, fault != .crash || current == .crash {
                if current == fault { return }
                throw LabError("node\(index) already has fault \(current.rawValue); `khactl lab revive node\(index)` first")
            }
            switch fault {
            case .crash:
                if node.fault == .freeze, let initProcess = node.initProcess {
                    for process in LabNode.processes(inNamespaceOf: initProcess) { Foundation.kill(process, SIGCONT) }
                }
                // Pull the cable first: a dead namespace is torn down by the kernel a little later, and
                // until then its addresses (a VIP too) still answer.
                try? await ipBatch(in: try switchNamespace(), ["link delete \(node.switchPort)"])
                powerOff(node)
                state.nodes[position].initProcess = nil
                state.nodes[position].holder = nil
            case .partition:
                try await ipBatch(in: try switchNamespace(), ["link set \(node.switchPort) down"])
            case .isolate:
                try await runner.check(try switchCommand(["bridge", "link", "set", "dev", node.switchPort, "state", "0"]))
            case .freeze:
                guard let initProcess = node.initProcess, initProcess.isAlive else { throw LabError("node\(index) is powered off") }
                for process in LabNode.processes(inNamespaceOf: initProcess) where process != initProcess.pid {
                    Foundation.kill(process, SIGSTOP)
                }
            }
            state.nodes[position].fault = fault
            try store.save(state)
        }
    }

    /// Undoes the fault of node `index` (powers it on after a crash). With `wipe`, a node that is off gets a new,
    /// empty disk first: the packages' files and the operator's (BMC password, stand-in), no cluster files or state.
    package func revive(_ index: Int, wipe: Bool = false) async throws {
        try Lab.requireRoot()
        try await store.locked {
            var state = try store.load()
            guard let position = state.nodes.firstIndex(where: { $0.index == index }) else { throw LabError("lab \(name) has no node\(index)") }
            let node = state.nodes[position]
            if wipe {
                guard node.initProcess?.isAlive != true else {
                    throw LabError("node\(index) is on; `khactl lab kill --mode crash node\(index)` powers it off before its disk is replaced")
                }
                let root = store.nodeFolder(index)
                try? FileManager.default.removeItem(at: root)
                try await makeEmptyDisk(node, systemd: state.bootsSystemd)
                try await installNodeFiles(index)
                try await startNode(index, &state)
                state.nodes[position].fault = nil
                try store.save(state)
                return
            }
            switch node.fault {
            case nil:
                if node.initProcess?.isAlive != true { try await startNode(index, &state) }
            case .crash:
                try await startNode(index, &state)
            case .partition:
                try await ipBatch(in: try switchNamespace(), ["link set \(node.switchPort) up"])
            case .isolate:
                try await runner.check(try switchCommand(["bridge", "link", "set", "dev", node.switchPort, "state", "3"]))
            case .freeze:
                if let initProcess = node.initProcess {
                    for process in LabNode.processes(inNamespaceOf: initProcess) { Foundation.kill(process, SIGCONT) }
                }
            }
            state.nodes[position].fault = nil
            try store.save(state)
        }
    }

    /// Power state of node `index`, for its BMC.
    package func isPoweredOn(_ index: Int) throws -> Bool {
        try store.load().nodes.first { $0.index == index }?.initProcess?.isAlive == true
    }

    func powerOff(_ node: LabNodeState) {
        // Killing PID 1 of a PID namespace kills every process in it; the namespaces go with them.
        node.initProcess?.killAndWait()
        // systemd-nspawn ends once its container has; a moment for that, then it is killed too.
        if let holder = node.holder {
            let deadline = ContinuousClock.now + .seconds(2)
            while holder.isAlive && ContinuousClock.now < deadline { usleep(10_000) }
            holder.killAndWait()
        }
        removeCgroups(node)
    }
}

// MARK: - down

extension Lab {
    /// Removes everything the lab made: processes (by PID, checked against their start time), namespaces
    /// (they go with their processes), mounts (they live only in the nodes' mount namespaces) and the
    /// state folder. Works after a khactl that was killed half-way, too.
    package func down() async throws {
        try Lab.requireRoot()
        guard FileManager.default.fileExists(atPath: folder.path) else { return }
        try await store.locked {
            if store.exists {
                try await teardown(try store.load())
            }
        }
        try FileManager.default.removeItem(at: folder)
    }

    func teardown(_ state: LabState) async throws {
        for node in state.nodes {
            node.bmc?.terminate(grace: .seconds(1))
            // A frozen node's processes must run again to die of SIGKILL in order; SIGKILL works anyway,
            // but SIGCONT first keeps pacemaker's children from lingering stopped.
            if node.fault == .freeze, let initProcess = node.initProcess {
                for process in LabNode.processes(inNamespaceOf: initProcess) { Foundation.kill(process, SIGCONT) }
            }
            powerOff(node)
        }
        if let witness = state.witness { powerOff(witness) }
        state.switchHolder?.killAndWait()
        // The lab's cgroup folders (its nodes' are gone with them; rmdir leaves another lab's).
        for hierarchy in Lab.cgroupHierarchies {
            rmdir("\(hierarchy)/khactl-lab/\(cgroupName)")
            rmdir("\(hierarchy)/khactl-lab")
        }
    }
}

// MARK: - helpers

extension Lab {
    /// Empties the lab's folder but for the lock file (removing it would let a second khactl lock a new
    /// file while this one still holds the old).
    func removeContents(keeping lock: URL) throws {
        for entry in (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [] {
            if entry.lastPathComponent != lock.lastPathComponent { try FileManager.default.removeItem(at: entry) }
        }
    }

    static func requireRoot() throws {
        guard geteuid() == 0 else { throw LabError("the lab creates namespaces and must run as root") }
    }

    func waitForNamespace(of pid: Int32) async throws {
        let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for _ in 0..<400 {
            if let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net"), theirs != own {
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw LabError("process \(pid) did not enter a network namespace of its own")
    }

    func waitForChild(of holder: ProcessIdentity) async throws -> ProcessIdentity {
        for _ in 0..<400 {
            if let child = holder.children.first, let identity = ProcessIdentity.of(child) { return identity }
            guard holder.isAlive else { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw LabError("unshare (pid \(holder.pid)) did not start the node's init; see \(folder.path)/node*/var/log/khactl-node.log")
    }

    func waitUntilGone(_ process: ProcessIdentity, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while process.isAlive {
            guard ContinuousClock.now < deadline else { throw LabError("process \(process.pid) did not finish in \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Facts about a node's private folders and processes.
enum LabNode {
    /// Folders each node has of its own, bind-mounted over the host's inside the node.
    static let privateFolders = [
        "etc/corosync", "var/lib/corosync", "var/log/corosync", "var/lib/pacemaker", "var/log/pacemaker",
        "etc/pacemaker", "etc/haproxy", "etc/sysctl.d", "etc/khactl", "run",
        // The lab's own OCF agents (the stand-in API server), as a controller would have its vendor's.
        "usr/lib/ocf/resource.d/khactl",
        // pcsd's state and logs (`lab bootstrap --via pcsd`), and the unit links that pcs enables and disables.
        "var/lib/pcsd", "var/log/pcsd", "etc/systemd",
    ]

    static var hacluster: (uid: uid_t, gid: gid_t) {
        let uid = getpwnam("hacluster")?.pointee.pw_uid ?? 0
        let gid = getgrnam("haclient")?.pointee.gr_gid ?? 0
        return (uid, gid)
    }

    /// pacemaker's daemons run as hacluster:haclient and need their folders.
    static func prepareOwnership(_ root: URL) throws {
        let (uid, gid) = hacluster
        for sub in ["cib", "pengine", "blackbox", "cores"] {
            let path = root.appendingPathComponent("var/lib/pacemaker/\(sub)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chown(path, uid, gid)
            chmod(path, 0o750)
        }
        for path in ["var/lib/pacemaker", "var/log/pacemaker", "etc/pacemaker"] {
            chown(root.appendingPathComponent(path).path, uid, gid)
        }
        chmod(root.appendingPathComponent("var/log/pacemaker").path, 0o770)
    }

    /// Every process whose PID namespace is that of `initProcess`.
    static func processes(inNamespaceOf initProcess: ProcessIdentity) -> [Int32] {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(initProcess.pid)/ns/pid"),
            let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc")
        else { return [] }
        return entries.compactMap { Int32($0) }.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid")) == target
        }
    }
}
