import ClusterExec
import Foundation

/// The power a lab BMC controls: the lab node itself. The power state is read from the lab (is the
/// node's init alive), never cached, so a node revived by hand is never reported off to a fencer;
/// power changes go through `khactl lab kill --mode crash` / `khactl lab revive`, which take the lab's lock.
public struct LabPowerControl: PowerControl {
    /// The lab.
    public let lab: Lab
    /// The node's index.
    public let index: Int
    /// The khactl executable to run for power changes.
    public let executable: String

    /// Creates the power control of node `index`.
    public init(lab: Lab, index: Int, executable: String) {
        self.lab = lab
        self.index = index
        self.executable = executable
    }

    public func powerState() throws -> PowerState {
        try lab.isPoweredOn(index) ? .on : .off
    }

    public func powerOff() throws {
        guard try powerState() == .on else { return }
        try ExternalCommand(argv: [executable, "lab", "kill", "node\(index)", "--mode", "crash", "--name", lab.name]).run(timeout: 60)
    }

    public func powerOn() throws {
        guard try powerState() == .off else { return }
        try ExternalCommand(argv: [executable, "lab", "revive", "node\(index)", "--name", lab.name]).run(timeout: 120)
    }

    public func reset() throws {
        try powerOff()
        try powerOn()
    }
}

extension Lab {
    /// The plain-HTTP port of node I's BMC, on the switch namespace's loopback.
    static func bmcPort(_ index: Int) -> UInt16 { UInt16(8000 + index) }

    /// haproxy terminating TLS on each BMC address (fence_redfish always speaks HTTPS) in front of the
    /// plain-HTTP BMCs.
    static func bmcProxyConfiguration(nodes: [LabNodeState], pem: String) -> String {
        var text = """
            # Written by khactl lab: TLS in front of the lab BMCs.
            global
                maxconn 512

            defaults
                mode http
                timeout connect 5s
                timeout client 60s
                timeout server 150s
                timeout http-request 30s

            """
        for node in nodes {
            text += """

                frontend bmc_\(node.name)
                    bind \(node.bmcAddress):443 ssl crt \(pem)
                    default_backend bmc_\(node.name)

                backend bmc_\(node.name)
                    server bmc 127.0.0.1:\(bmcPort(node.index))

                """
        }
        return text
    }

    /// Starts one BMC per node and the TLS proxy in the switch namespace.
    func startBMCs(_ state: inout LabState) throws {
        guard let switchHolder = state.switchHolder else { throw LabError("lab \(name) has no switch") }
        let net = "--net=/proc/\(switchHolder.pid)/ns/net"
        let pem = folder.appendingPathComponent("bmc.pem").path
        try BMCTLSFrontend.generateSelfSignedPEM(at: pem)
        let configuration = folder.appendingPathComponent("bmc-haproxy.cfg")
        try Lab.bmcProxyConfiguration(nodes: state.nodes, pem: pem).write(to: configuration, atomically: true, encoding: .utf8)
        state.bmcProxy = try Daemon.spawn(
            Command("nsenter", [net, "--", "haproxy"] + BMCTLSFrontend.haproxyArguments(configurationPath: configuration.path)),
            log: folder.appendingPathComponent("bmc-haproxy.log").path)
        try store.save(state)
        for position in state.nodes.indices {
            let node = state.nodes[position]
            state.nodes[position].bmc = try Daemon.spawn(
                Command("nsenter", [
                    net, "--", Lab.executable, "lab", "bmc", "--listen", "127.0.0.1:\(Lab.bmcPort(node.index))",
                    "--username", "admin", "--password-file", folder.appendingPathComponent("bmc-password").path,
                    "--lab", name, "--node", String(node.index),
                ], environment: ["KHACTL_LAB_ROOT": folder.deletingLastPathComponent().path]),
                log: folder.appendingPathComponent("bmc-\(node.name).log").path)
            try store.save(state)
        }
    }
}
