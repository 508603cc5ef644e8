import Pacemaker
import KhactlCore
import ArgumentParser
import ClusterExec
import Foundation

/// `khactl lab`: a real multi-node cluster in network namespaces on this machine.
package struct LabCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "A real N-node Corosync/Pacemaker cluster in network namespaces on this machine.",
        subcommands: [LabUp.self, LabBootstrapCommand.self, LabSpecCommand.self, LabStatus.self, LabExec.self, LabKill.self, LabRevive.self, LabDrill.self, LabMeasureCommand.self, LabUpgradeCommand.self, LabStandInUpgrade.self,
            LabDown.self, LabInit.self, LabCgroupExec.self, LabBMCCommand.self]
    )

    package init() {}
}

/// Options naming the lab.
package struct LabOptions: ParsableArguments {
    @Option(help: "The lab's name; labs with different names run side by side.")
    package var name = "lab"

    package init() {}

    func lab() throws -> Lab {
        do { return try Lab(name: name) } catch { throw CLIError(String(describing: error)) }
    }
}

extension LabError: ReportedError {}

/// `khactl lab up`.
package struct LabUp: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "up", abstract: "Start a lab cluster.")

    @OptionGroup package var lab: LabOptions
    @Option(help: "Number of nodes, 1 to 9.") package var nodes = 3
    @Option(help: "corosync token timeout in ms (default 1000; with --bare, khactl bootstrap's default, 500).") package var token: Int?
    @Option(help: "corosync consensus timeout in ms (default 1.2 × token).") package var consensus: Int?
    @Flag(inversion: .prefixedNo, help: "Fencing through a lab BMC per node and fence_redfish.") package var fencing = true
    @Flag(help: "Install the example resources (an IPaddr2 VIP and a cloned haproxy) once the lab is up.") package var example = false
    @Flag(help: "Bare controllers: no cluster yet; `khactl lab bootstrap` makes it with khactl bootstrap.") package var bare = false
    @Flag(help: "Nodes that boot systemd as PID 1 (systemd-nspawn containers over roots of their own); goes with --bare.")
    package var systemd = false
    @Flag(help: "Also a witness host (198.18.0.10) for a quorum device; `lab bootstrap --quorum-device` runs corosync-qnetd there.")
    package var witness = false

    package func validate() throws {
        if bare && example { throw ValidationError("--example needs a cluster; with --bare use `khactl lab bootstrap`") }
        if witness && !bare { throw ValidationError("--witness goes with --bare (`lab bootstrap --quorum-device` uses it)") }
        if systemd && !bare { throw ValidationError("--systemd goes with --bare: khactl bootstrap makes the cluster through systemctl") }
    }

    package init() {}

    package func run() async throws {
        var options = Lab.UpOptions()
        options.nodes = nodes
        options.token = token ?? (bare ? ClusterSpec.defaultToken : 1000)
        options.consensus = consensus ?? (token.map { $0 * 12 / 10 } ?? (bare ? ClusterSpec.defaultConsensus : 1200))
        options.fencing = fencing
        options.bare = bare
        options.witness = witness
        options.systemd = systemd
        let lab = try self.lab.lab()
        let start = ContinuousClock.now
        try await reportingErrors {
            try await lab.up(options) { print("lab \(lab.name): \($0)") }
            if example {
                print("lab \(lab.name): installing the example resources (vip \(LabNetwork.defaultVIP), haproxy-clone)")
                try await lab.installExample()
            }
        }
        print("lab \(lab.name): up, \(nodes) nodes \(bare ? "(bare\(systemd ? ", systemd" : ""))" : "online"), in \((ContinuousClock.now - start).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))")
    }
}

/// `khactl lab status`.
package struct LabStatus: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the lab's nodes and cluster.")

    @OptionGroup package var lab: LabOptions
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let lab = try self.lab.lab()
        let state = try await reportingErrors { try lab.state() }
        let cluster = try? await lab.clusterStatus()
        switch global.output {
        case .json:
            var nodes: [JSONValue] = []
            for node in state.nodes {
                let online = cluster?.nodes.first { $0.name == node.name }?.online ?? false
                nodes.append([
                    "name": .string(node.name), "address": .string(node.address), "bmc": .string(node.bmcAddress),
                    "power": .string(node.initProcess?.isAlive == true ? "on" : "off"),
                    "fault": node.fault.map { .string($0.rawValue) } ?? .null, "online": .bool(online),
                ])
            }
            var object: [String: JSONValue] = ["name": .string(state.name), "nodes": .array(nodes)]
            if let cluster {
                object["dc"] = cluster.dc.map(JSONValue.string) ?? .null
                object["quorate"] = .bool(cluster.quorate)
                object["resources"] = .array(cluster.resources.map {
                    ["id": .string($0.id), "agent": .string($0.agent), "role": .string($0.role), "nodes": .array($0.nodes.map(JSONValue.string))]
                })
            }
            print(JSONValue.object(object).line)
        case .text:
            print("lab \(state.name): token \(state.token) ms, consensus \(state.consensus) ms")
            for node in state.nodes {
                let power = node.initProcess?.isAlive == true ? "on" : "off"
                let online = cluster?.nodes.first { $0.name == node.name }?.online == true ? "online" : "offline"
                print("  \(node.name)  \(node.address)  power \(power)  \(online)\(node.fault.map { "  fault \($0.rawValue)" } ?? "")")
            }
            if let cluster {
                print("cluster: DC \(cluster.dc ?? "none"), \(cluster.quorate ? "quorate" : "NOT quorate")")
                for resource in cluster.resources {
                    print("  \(resource.id) (\(resource.agent)): \(resource.role) \(resource.nodes.joined(separator: ","))")
                }
            } else {
                print("cluster: no node answers")
            }
        }
    }
}

/// `khactl lab exec NODE -- CMD...`.
package struct LabExec: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command inside a lab node, e.g. `khactl lab exec node1 -- crm_mon -1`.")

    @OptionGroup package var lab: LabOptions
    @Argument(help: "The node (node1, node2, ...), or `client`: the lab client's side of the network (198.18.0.2).") package var node: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") package var command: [String] = []

    package init() {}

    package func run() throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard !argv.isEmpty else { throw ValidationError("give the command to run after --") }
        let lab = try self.lab.lab()
        let built: Command
        do {
            built = node == "client" ? try lab.switchCommand(argv) : try lab.nodeCommand(try lab.nodeIndex(node), argv)
        } catch {
            throw CLIError(String(describing: error))
        }
        // exec: the command's stdio, exit status and signals are the caller's, as with ssh or kubectl exec.
        let path = Daemon.resolve(built.executable)
        let args = ([path] + built.arguments).map { strdup($0) } + [nil]
        fflush(nil)
        // This runs on a Swift concurrency thread, which blocks most signals; an exec'd program keeps the
        // mask, so without this the command would ignore SIGTERM and SIGINT for good.
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT] { Glibc.signal(signal, SIG_DFL) }
        execv(path, args)
        throw CLIError("cannot run \(path): \(String(cString: strerror(errno)))")
    }
}

/// `khactl lab kill NODE --mode ...`.
package struct LabKill: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Inject a fault into a node.",
        discussion: """
            crash: power off (every process and namespace of the node goes). partition: the node's link goes \
            down. isolate: the link stays up but the switch stops carrying the node's traffic, so the node \
            sees no link failure. freeze: SIGSTOP of every process of the node.
            """)

    @OptionGroup package var lab: LabOptions
    @Argument(help: "The node (node1, node2, ...), or `client`: the lab client's side of the network (198.18.0.2).") package var node: String
    @Option(help: "crash, partition, isolate or freeze.") package var mode: LabFault = .crash

    package init() {}

    package func run() async throws {
        let lab = try self.lab.lab()
        try await reportingErrors {
            try await lab.kill(try lab.nodeIndex(node), mode)
        }
        print("lab \(lab.name): \(node) \(mode.rawValue)")
    }
}

extension LabFault: ExpressibleByArgument {}

/// `khactl lab revive NODE`.
package struct LabRevive: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "revive", abstract: "Undo a node's fault; power it on after a crash.")

    @OptionGroup package var lab: LabOptions
    @Argument(help: "The node (node1, node2, ...), or `client`: the lab client's side of the network (198.18.0.2).") package var node: String
    @Flag(help: "Power a node that is off on with a new, empty disk (a rebuilt controller: no cluster files, no state).")
    package var wipe = false

    package init() {}

    package func run() async throws {
        let lab = try self.lab.lab()
        try await reportingErrors {
            try await lab.revive(try lab.nodeIndex(node), wipe: wipe)
        }
        print("lab \(lab.name): \(node) revived\(wipe ? " with an empty disk" : "")")
    }
}

/// `khactl lab spec`: the spec `lab bootstrap --profile` writes, for some of the lab's nodes.
package struct LabSpecCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "spec", abstract: "Print the spec `lab bootstrap --profile kubernetes-control-plane` uses, for the first N nodes.")

    @OptionGroup package var lab: LabOptions
    @Option(help: "How many of the lab's nodes the spec has (default: all).") package var nodes: Int?
    @Option(help: "The VIPs of the profile (repeat for several).") package var vip: [String] = [LabNetwork.defaultVIP]
    @Flag(help: "With the lab's witness as quorum device.") package var quorumDevice = false
    @Option(help: "A timing preset (default or fast) instead of the lab's token.") package var timing: ClusterSpec.Timing?
    @Option(help: "The nodes' fence agent: fence_redfish or fence_khactl.") package var fenceAgent: LabFenceAgent = .fenceRedfish

    package init() {}

    package func run() async throws {
        let lab = try self.lab.lab()
        let text = try await reportingErrors {
            var state = try lab.state()
            if let nodes {
                guard (1...state.nodes.count).contains(nodes) else { throw LabError("--nodes must be 1 to \(state.nodes.count)") }
                state.nodes = Array(state.nodes.prefix(nodes))
            }
            return lab.profileSpec(state, vips: vip, quorumDevice: quorumDevice, timing: timing, fenceAgent: fenceAgent)
        }
        print(text, terminator: "")
    }
}

/// `khactl lab down`.
package struct LabDown: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "down", abstract: "Remove everything the lab made.")

    @OptionGroup package var lab: LabOptions

    package init() {}

    package func run() async throws {
        let lab = try self.lab.lab()
        let start = ContinuousClock.now
        try await reportingErrors { try await lab.down() }
        print("lab \(lab.name): down in \((ContinuousClock.now - start).formatted(.units(allowed: [.milliseconds])))")
    }
}

/// `khactl lab init`: PID 1 of a lab node. Sets the hostname and reaps every orphan, as an init must.
package struct LabInit: ParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "init", shouldDisplay: false)

    @Option package var hostname: String

    package init() {}

    package func run() throws {
        _ = hostname.withCString { sethostname($0, strlen($0)) }
        while true {
            var status: Int32 = 0
            if waitpid(-1, &status, 0) < 0 && errno == ECHILD {
                sleep(1)
            }
        }
    }
}

/// `khactl lab drill`.
package struct LabDrill: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Kill the node holding a resource, measure the failover from the lab client, revive, repeat.")

    @OptionGroup package var lab: LabOptions
    @OptionGroup package var global: GlobalOptions
    @Option(help: "Rounds to run.") package var rounds = 3
    @Option(help: "crash, partition or isolate.") package var mode: LabFault = .crash
    @Option(help: "The resource whose holder is killed.") package var resource = "vip"
    @Option(help: "The floating address to probe from the lab client.") package var vip = LabNetwork.defaultVIP
    @Option(help: "A TCP port on the VIP to probe as well (0: none).") package var port: UInt16 = 7443

    package init() {}

    package func validate() throws {
        if rounds < 1 { throw ValidationError("--rounds must be at least 1") }
        if mode == .freeze { throw ValidationError("--mode must be crash, partition or isolate") }
    }

    package func run() async throws {
        var options = Lab.DrillOptions()
        options.rounds = rounds
        options.mode = mode
        options.resource = resource
        options.vip = vip
        options.port = port == 0 ? nil : port
        let lab = try self.lab.lab()
        let json = global.output == .json
        let report = try await reportingErrors {
            try await lab.drill(options) { if !json { print($0) } }
        }
        print(json ? report.json.line : report.text)
    }
}

/// `khactl lab bootstrap`: khactl bootstrap on every node of a bare lab.
package struct LabBootstrapCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Run khactl bootstrap on every node of a bare lab (`lab up --bare`), from a spec of the lab's nodes and BMCs.")

    /// The profiles `--profile` knows.
    package enum ProfileName: String, ExpressibleByArgument, CaseIterable, Sendable {
        case kubernetesControlPlane = "kubernetes-control-plane"
    }

    @OptionGroup package var lab: LabOptions
    @Option(help: "Write a spec for the lab's nodes with this profile.") package var profile: ProfileName?
    @Option(name: [.customShort("f"), .customLong("file")], help: "Use this spec instead (its nodes must be the lab's).") package var file: String?
    @Option(help: "The VIPs of the profile (repeat for several).") package var vip: [String] = [LabNetwork.defaultVIP]
    @Option(help: "direct (khactl writes corosync.conf and the authkey) or pcsd (pcsd on every node; pcs host auth and pcs cluster setup).")
    package var via: BootstrapCommand.Route = .direct
    @Option(help: "Bootstrap only the first N nodes (the others stay bare, e.g. for `khactl node add`).") package var nodes: Int?
    @Flag(help: "A quorum device on the lab's witness (`lab up --witness`): khactl witness init there, then bootstrap with it.")
    package var quorumDevice = false
    @Option(help: "With --profile: the spec's `cluster.timing` preset (default or fast) instead of the lab's token.")
    package var timing: ClusterSpec.Timing?
    @Option(help: "With --profile: the nodes' fence agent, fence_redfish or fence_khactl (linked in /usr/sbin by `khactl fence-agent install`).")
    package var fenceAgent: LabFenceAgent?

    package init() {}

    package func validate() throws {
        if (profile == nil) == (file == nil) { throw ValidationError("give either --profile kubernetes-control-plane or -f SPEC") }
        if timing != nil && file != nil { throw ValidationError("--timing goes with --profile (a spec given with -f has its own)") }
        if fenceAgent != nil && file != nil { throw ValidationError("--fence-agent goes with --profile (a spec given with -f has its own)") }
        if let nodes, nodes < 1 { throw ValidationError("--nodes must be at least 1") }
    }

    package func run() async throws {
        let lab = try self.lab.lab()
        let start = ContinuousClock.now
        let results = try await reportingErrors {
            try await lab.bootstrap(
                spec: file, vips: vip, via: via, nodes: nodes, quorumDevice: quorumDevice, timing: timing,
                fenceAgent: fenceAgent ?? .fenceRedfish
            ) {
                print("lab \(lab.name): \($0)")
            }
        }
        var failed: [String] = []
        for (node, output) in results {
            for line in (output.standardOutput + output.standardError).split(separator: "\n", omittingEmptySubsequences: false) {
                print("\(node) | \(line)")
            }
            if !output.succeeded { failed.append("\(node) (exit \(output.status))") }
        }
        if !failed.isEmpty { throw CLIError("lab \(lab.name): bootstrap failed on \(failed.joined(separator: ", "))") }
        print("lab \(lab.name): bootstrapped \(results.count) nodes in \((ContinuousClock.now - start).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))")
    }
}

/// `khactl lab measure -- COMMAND`: what the lab client sees of the endpoint while a command runs.
package struct LabMeasureCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Run a command on this host while the lab client probes the VIP; report lost replies and dual-active samples.",
        discussion: """
            The lab client pings the VIP every 20 ms, requests --url every --interval-ms on a new connection each time \
            (curl), and every node is sampled for the VIP every 20 ms. The command's output comes first; the report is \
            the last line. Exits with the command's status.
            """)

    @OptionGroup package var lab: LabOptions
    @OptionGroup package var global: GlobalOptions
    @Option(help: "The VIP to ping and sample.") package var vip = LabNetwork.defaultVIP
    @Option(help: "A URL to request from the lab client, e.g. https://198.18.0.100:7443/healthz.") package var url: String?
    @Option(help: "Milliseconds between requests to --url.") package var intervalMs = 50
    @Flag(help: "Also count the nodes in standby every 250 ms.") package var standby = false
    @Argument(parsing: .captureForPassthrough, help: "The command, after --.") package var command: [String] = []

    package init() {}

    package func validate() throws {
        if command.filter({ $0 != "--" }).isEmpty { throw ValidationError("give the command to run after --") }
        if intervalMs < 10 { throw ValidationError("--interval-ms must be at least 10") }
    }

    package func run() async throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        let lab = try self.lab.lab()
        var options = Lab.MeasureOptions()
        options.vip = vip
        options.url = url
        options.interval = .milliseconds(intervalMs)
        options.standby = standby
        let (output, report) = try await reportingErrors {
            try await lab.measure(options) {
                try await SubprocessRunner().run(Command(argv[0], Array(argv.dropFirst()), timeout: .seconds(3600)))
            }
        }
        FileHandle.standardOutput.write(Data(output.standardOutput.utf8))
        FileHandle.standardError.write(Data(output.standardError.utf8))
        var object: [String: JSONValue] = ["status": .integer(Int64(output.status))]
        if case .object(let fields) = report.json { object.merge(fields) { a, _ in a } }
        print(global.output == .json ? JSONValue.object(object).line : report.text)
        if !output.succeeded { throw ExitCode(output.status == 0 ? 1 : output.status) }
    }
}

/// `khactl lab upgrade --each-node -- COMMAND`: khactl's rolling upgrade on the lab's cluster, from the host.
package struct LabUpgradeCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "khactl upgrade --each-node on the lab's cluster: the cluster's tools and the command run inside the nodes.",
        discussion: """
            The lab's stand-in for `kubeadm upgrade node` is `khactl lab standin-upgrade --version V`, run inside \
            each node: the stand-in API server answers /version with V once it starts again.
            """)

    @OptionGroup package var lab: LabOptions
    @OptionGroup package var upgrade: UpgradeArguments
    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let lab = try self.lab.lab()
        let json = global.output == .json
        let reports = try await reportingErrors {
            try upgrade.checkHook()
            return try await lab.rollingUpgrade().run(upgrade.action(), options: upgrade.options()) { line in
                if !json { print("lab \(lab.name): \(line)") }
            }
        }
        printUpgrade(reports, global.output)
    }
}

/// `khactl lab standin-upgrade --version V`: inside a lab node, what "kubeadm upgrade node" is to the stand-in.
package struct LabStandInUpgrade: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "standin-upgrade",
        abstract: "Inside a lab node: give the stand-in API server a new version (its /version answer once it starts again).")

    @Option(help: "The new version string.") package var version: String
    @Option(help: "Fail (exit 1) when this file exists: the lab's way to make one node's upgrade fail.") package var failIfExists: String?
    @Option(help: "Seconds to take, as a real upgrade would.") package var sleep: Double = 0

    package init() {}

    package func run() throws {
        if sleep > 0 { Thread.sleep(forTimeInterval: sleep) }
        do {
            try Lab.upgradeStandIn(to: version, failIfExists: failIfExists)
        } catch {
            throw CLIError(String(describing: error))
        }
        print("stand-in API server: version \(version) from its next start")
    }
}

extension ClusterSpec.Timing: ExpressibleByArgument {}
