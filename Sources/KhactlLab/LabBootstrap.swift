import ArgumentParser
import Pacemaker
import KhactlCore
import LabBMC
import ClusterExec
import Foundation

/// The fence agent of the lab's profile spec: fence-agents' `fence_redfish`, or khactl's compiled `fence_khactl`.
package enum LabFenceAgent: String, Sendable, CaseIterable, ExpressibleByArgument {
    case fenceRedfish = "fence_redfish"
    case fenceKhactl = "fence_khactl"
}

/// `khactl lab bootstrap`: `khactl bootstrap` on every node of a bare lab, at once, from a spec of the
/// lab's nodes, addresses and BMCs, with a stand-in for kube-apiserver.
extension Lab {
    /// Where the stand-in's files live inside every node.
    static let standInConfig = "/etc/khactl/apiserver-standin.cfg"
    static let standInPEM = "/etc/khactl/apiserver-standin.pem"
    static let nodePasswordFile = "/etc/khactl/bmc-password"

    /// The spec `lab bootstrap --profile kubernetes-control-plane` writes: the lab's nodes with their
    /// BMCs, the lab's token, the Kubernetes profile on the default VIP with lab stand-ins for the API
    /// server (haproxy answering HTTPS /healthz) and the controllers (Dummy).
    func profileSpec(
        _ state: LabState, vips: [String], quorumDevice: Bool = false, timing: ClusterSpec.Timing? = nil,
        fenceAgent: LabFenceAgent = .fenceRedfish
    ) -> String {
        var lines = [
            "# Written by `khactl lab bootstrap` for lab \(state.name): its nodes, BMCs and timings.",
            "cluster:",
            "  name: \(state.name)",
            "  dc-deadtime: 2s   # the lab's nodes all start within a second",
        ]
        if let timing {
            lines.append("  timing: \(timing.rawValue)   # token \(timing.token) ms, consensus \(timing.consensus) ms")
        } else {
            lines.append("  totem: {token: \(state.token), consensus: \(state.consensus)}")
        }
        if quorumDevice {
            lines.append("  quorum-device: {host: \(LabNetwork.nodeAddress(Lab.witnessIndex)), algorithm: ffsplit}   # the lab's witness (corosync-qnetd)")
        }
        lines += [
            "  nodes:",
        ]
        for node in state.nodes {
            lines.append(
                "    - {name: \(node.name), addresses: [\(node.address)], fence: {agent: \(fenceAgent.rawValue), ip: \(node.bmcAddress), ipport: \"443\", "
                    + "username: admin, password-file: \(Lab.nodePasswordFile), ssl_insecure: \"1\", power_wait: \"0\"}}")
        }
        lines += [
            "properties:",
            "  stonith-action: \"off\"      # a fenced lab node stays off until `khactl lab revive`",
            "  stonith-timeout: 30s",
            "profile:",
            "  kubernetes-control-plane:",
            "    vips: [\(vips.joined(separator: ", "))]",
            "    cidr: \(LabNetwork.prefix)",
            "    frontend-port: 7443",
            "    apiserver-port: 6443",
        ]
        if state.bootsSystemd {
            lines += [
                "    haproxy: {agent: \"systemd:haproxy\"}",
                "    apiserver: {agent: \"systemd:\(Lab.standInUnitName)\"}   # the lab's stand-in: haproxy answering HTTPS /healthz",
            ]
        } else {
            lines += [
                "    haproxy: {agent: \"lsb:haproxy\"}        # no systemd in a lab node",
                "    apiserver: {agent: \"ocf:khactl:apiserver-standin\"}   # the lab's stand-in: haproxy answering HTTPS /healthz",
            ]
        }
        lines += [
            "    control-group:",
            "      - {id: kube-controller-manager, agent: \"ocf:pacemaker:Dummy\"}",
            "      - {id: kube-scheduler, agent: \"ocf:pacemaker:Dummy\"}",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The stand-in API server's version before any lab upgrade.
    static let standInVersion = "v1.30.0-standin"

    /// The stand-in API server's haproxy configuration: `/version` answers `version`.
    static func standInConfigText(version: String = standInVersion) -> String {
        """
        # The lab's stand-in for kube-apiserver: HTTPS on :6443, /healthz answers 200, /version its version.
        global
            maxconn 256
        defaults
            mode http
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        frontend apiserver-standin
            bind :6443 ssl crt \(standInPEM)
            http-request return status 200 content-type text/plain string ok if { path /healthz }
            http-request return status 200 content-type application/json string "{\\"gitVersion\\":\\"\(version)\\"}" if { path /version }
            http-request return status 200 content-type application/json string "{\\"kind\\":\\"Status\\",\\"standIn\\":true}"

        """
    }

    /// The stand-in's OCF agent: runs haproxy with the stand-in configuration, stops it, monitors it by
    /// its pidfile and an HTTPS `/healthz` request.
    static let standInAgent = """
        #!/bin/sh
        # khactl lab: a stand-in for kube-apiserver (haproxy answering HTTPS /healthz on :6443).
        : ${OCF_ROOT=/usr/lib/ocf}
        : ${OCF_FUNCTIONS_DIR=${OCF_ROOT}/lib/heartbeat}
        . ${OCF_FUNCTIONS_DIR}/ocf-shellfuncs
        PIDFILE=/run/khactl-apiserver-standin.pid
        CONFIG=\(standInConfig)

        running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

        case "$1" in
        meta-data)
            cat <<'XML'
        <?xml version="1.0"?>
        <!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
        <resource-agent name="apiserver-standin" version="1.0">
          <version>1.0</version>
          <longdesc lang="en">The khactl lab's stand-in for kube-apiserver: haproxy answering HTTPS /healthz.</longdesc>
          <shortdesc lang="en">kube-apiserver stand-in</shortdesc>
          <parameters/>
          <actions>
            <action name="start" timeout="20s"/>
            <action name="stop" timeout="20s"/>
            <action name="monitor" timeout="20s" interval="10s"/>
            <action name="meta-data" timeout="5s"/>
            <action name="validate-all" timeout="5s"/>
          </actions>
        </resource-agent>
        XML
            exit $OCF_SUCCESS ;;
        start)
            running && exit $OCF_SUCCESS
            haproxy -D -f "$CONFIG" -p "$PIDFILE" || exit $OCF_ERR_GENERIC
            running && exit $OCF_SUCCESS
            exit $OCF_ERR_GENERIC ;;
        stop)
            # SIGUSR1: haproxy's soft stop, finishing the requests it has, as an API server drains on SIGTERM.
            if running; then kill -USR1 "$(cat "$PIDFILE")"; fi
            for _ in 1 2 3 4 5 6 7 8 9 10; do running || break; sleep 0.2; done
            running && kill -9 "$(cat "$PIDFILE")"
            rm -f "$PIDFILE"
            exit $OCF_SUCCESS ;;
        monitor|status)
            running || exit $OCF_NOT_RUNNING
            exit $OCF_SUCCESS ;;
        validate-all)
            [ -f "$CONFIG" ] || exit $OCF_ERR_CONFIGURED
            exit $OCF_SUCCESS ;;
        *)
            exit $OCF_ERR_UNIMPLEMENTED ;;
        esac

        """

    /// Writes the spec (unless one is given), the files every node needs, and runs `khactl bootstrap` on
    /// every node at once. Returns each node's output.
    /// With `via: .pcsd`, every node runs pcsd and `khactl bootstrap --via pcsd`: the spec's first node sets the
    /// cluster up with `pcs host auth` and `pcs cluster setup`.
    package func bootstrap(
        spec given: String?, vips: [String] = [LabNetwork.defaultVIP], via route: BootstrapCommand.Route = .direct, nodes count: Int? = nil,
        quorumDevice: Bool = false, timing: ClusterSpec.Timing? = nil, fenceAgent: LabFenceAgent = .fenceRedfish,
        progress: @Sendable (String) -> Void
    ) async throws -> [(node: String, output: CommandOutput)] {
        try Lab.requireRoot()
        let all = try store.load()
        var state = all
        if let count {
            guard (1...all.nodes.count).contains(count) else { throw LabError("--nodes must be 1 to \(all.nodes.count)") }
            state.nodes = Array(all.nodes.prefix(count))
        }
        guard state.switchHolder?.isAlive == true else { throw LabError("lab \(name) is not up") }
        let writtenSpec = folder.appendingPathComponent("bootstrap.yaml").path
        for node in state.nodes {
            let conf = store.nodeFolder(node.index).appendingPathComponent("etc/corosync/corosync.conf").path
            if FileManager.default.fileExists(atPath: conf) && !FileManager.default.fileExists(atPath: writtenSpec) {
                throw LabError("lab \(name) was made with its own cluster; `khactl lab up --bare` makes controllers for bootstrap")
            }
        }
        // One authkey for the lab, made once.
        let keyPath = folder.appendingPathComponent("authkey").path
        if !FileManager.default.fileExists(atPath: keyPath) { try AuthKey.generate().write(to: keyPath) }
        for node in all.nodes { try await installNodeFiles(node.index) }
        let specPath: String
        if let given {
            specPath = URL(fileURLWithPath: given).path
        } else {
            let text = profileSpec(state, vips: vips, quorumDevice: quorumDevice, timing: timing, fenceAgent: fenceAgent)
            if fenceAgent == .fenceKhactl {
                // The nodes share the host's /usr/sbin, where an operator runs `khactl fence-agent install` on each.
                let changed = try FenceAgentLink.install(binary: Lab.executable, directory: FenceAgentLink.defaultDirectory)
                progress("fence agent: \(FenceAgentLink.defaultDirectory)/\(RedfishFenceAgent.name) -> \(Lab.executable)\(changed ? "" : " (already)")")
            }
            if (try? String(contentsOfFile: writtenSpec, encoding: .utf8)) != text {
                try text.write(toFile: writtenSpec, atomically: true, encoding: .utf8)
            }
            specPath = writtenSpec
            progress("spec \(writtenSpec):\n" + text.split(separator: "\n").map { "  | \($0)" }.joined(separator: "\n"))
        }
        if !FileManager.default.fileExists(atPath: writtenSpec), let given {
            // Remember that this lab's cluster comes from bootstrap.
            try FileManager.default.copyItem(atPath: given, toPath: writtenSpec)
        }
        var routeArguments = ["--authkey", keyPath]
        if quorumDevice {
            guard state.witness?.initProcess?.isAlive == true else { throw LabError("lab \(name) has no witness: `lab up --bare --witness`") }
            let certificates = folder.appendingPathComponent("qdevice").path
            if !FileManager.default.fileExists(atPath: certificates) {
                progress("witness: khactl witness init --cluster \(name) (corosync-qnetd, its CA, the cluster's certificate)")
                // A witness that boots systemd has a disk of its own: the certificates are written there, then fetched.
                let out = all.bootsSystemd ? "/root/qdevice" : certificates
                let output = try await runner.run(try nodeCommand(
                    Lab.witnessIndex, [Lab.executable, "witness", "init", "--cluster", name, "--out", out], timeout: .seconds(120)))
                guard output.succeeded else { throw LabError("witness init: \(output.standardError)\(output.standardOutput)") }
                if all.bootsSystemd {
                    try await runner.check(Command("cp", ["-a", store.nodeFolder(Lab.witnessIndex).path + out, certificates]))
                }
            }
            routeArguments += ["--qdevice-certificates", certificates]
        }
        if route == .pcsd {
            progress("starting pcsd on every node (the hacluster password only in each node's own /etc/shadow)")
            try await preparePCSD(state)
            routeArguments = ["--via", "pcsd", "--pcsd-password-file", Lab.nodeHaclusterPasswordFile]
        }
        var nodeSpec = specPath
        if state.bootsSystemd {
            // Nodes with disks of their own see none of the lab's folder: the spec, the authkey and the quorum
            // device's certificates are copied onto each, as an operator copies them to every controller.
            nodeSpec = "/etc/khactl/cluster.yaml"
            let copies = [(specPath, nodeSpec, 0o600), (keyPath, "/etc/khactl/authkey", 0o400)]
            for node in state.nodes {
                let root = store.nodeFolder(node.index).path
                for (from, to, mode) in copies {
                    guard let data = FileManager.default.contents(atPath: from) else { throw LabError("cannot read \(from)") }
                    if FileManager.default.contents(atPath: root + to) != data { try Lab.replaceFile(root + to, with: data, mode: mode) }
                }
                if quorumDevice {
                    let certificates = folder.appendingPathComponent("qdevice").path
                    try? FileManager.default.removeItem(atPath: root + "/etc/khactl/qdevice")
                    try await runner.check(Command("cp", ["-a", certificates, root + "/etc/khactl/qdevice"]))
                }
            }
            routeArguments = routeArguments.map {
                $0 == keyPath ? "/etc/khactl/authkey" : $0 == folder.appendingPathComponent("qdevice").path ? "/etc/khactl/qdevice" : $0
            }
        }
        progress("running khactl bootstrap on \(state.nodes.map(\.name).joined(separator: ", ")) at once")
        let commands = try state.nodes.map { node in
            (node.name, try nodeCommand(
                node.index, [Lab.executable, "bootstrap", "-f", nodeSpec, "--node", node.name] + routeArguments,
                timeout: .seconds(300)))
        }
        let runner = self.runner
        return try await withThrowingTaskGroup(of: (Int, String, CommandOutput).self) { group in
            for (index, (node, command)) in commands.enumerated() {
                group.addTask { (index, node, try await runner.run(command)) }
            }
            var results: [(Int, String, CommandOutput)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map { ($0.1, $0.2) }
        }
    }

    /// The files an operator installs on a controller besides the cluster's (the BMC password, the stand-in API
    /// server's agent, configuration and certificate), on node `index`'s disk.
    func installNodeFiles(_ index: Int) async throws {
        let password = folder.appendingPathComponent("bmc-password").path
        guard let passwordData = FileManager.default.contents(atPath: password) else { throw LabError("lab \(name) has no BMC password file") }
        let pem = folder.appendingPathComponent("apiserver-standin.pem").path
        if !FileManager.default.fileExists(atPath: pem) { try await BMCCertificate.generate(at: pem) }
        let pemData = FileManager.default.contents(atPath: pem) ?? Data()
        let agents = store.nodeFolder(index).appendingPathComponent("usr/lib/ocf/resource.d/khactl")
        try FileManager.default.createDirectory(at: agents, withIntermediateDirectories: true)
        let agent = agents.appendingPathComponent("apiserver-standin").path
        if FileManager.default.contents(atPath: agent) != Data(Lab.standInAgent.utf8) {
            try Lab.replaceFile(agent, with: Data(Lab.standInAgent.utf8), mode: 0o755)
        }
        let etc = store.nodeFolder(index).appendingPathComponent("etc/khactl")
        try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
        for (file, data, mode) in [
            ("bmc-password", passwordData, 0o400), ("apiserver-standin.pem", pemData, 0o400),
            ("apiserver-standin.cfg", Data(Lab.standInConfigText().utf8), 0o644),
        ] {
            let path = etc.appendingPathComponent(file).path
            if FileManager.default.contents(atPath: path) == data { continue }
            try Lab.replaceFile(path, with: data, mode: mode)
        }
        // A node that boots systemd runs the stand-in as a unit (pacemaker's systemd class), installed as an
        // operator installs one: the file, then daemon-reload where systemd runs.
        guard try store.load().bootsSystemd else { return }
        let unit = store.nodeFolder(index).appendingPathComponent("etc/systemd/system/\(Lab.standInUnitName).service").path
        if FileManager.default.contents(atPath: unit) != Data(Lab.standInUnit.utf8) {
            try Lab.replaceFile(unit, with: Data(Lab.standInUnit.utf8), mode: 0o644)
            if try isPoweredOn(index) { try await runner.check(try nodeCommand(index, ["systemctl", "daemon-reload"])) }
        }
    }
}
