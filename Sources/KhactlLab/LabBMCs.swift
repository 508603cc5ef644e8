import Pacemaker
import KhactlCore
import ClusterExec
import Foundation
import LabBMC

/// The power a lab BMC controls: the lab node itself. The power state is read from the lab (is the
/// node's init alive), never cached, so a node revived by hand is never reported off to a fencer;
/// power changes go through `khactl lab kill --mode crash` / `khactl lab revive`, which take the lab's lock.
package struct LabPowerControl: PowerControl {
    /// The lab.
    package let lab: Lab
    /// The node's index.
    package let index: Int
    /// The khactl executable to run for power changes.
    package let executable: String

    /// Creates the power control of node `index`.
    package init(lab: Lab, index: Int, executable: String) {
        self.lab = lab
        self.index = index
        self.executable = executable
    }

    package func powerState() async throws -> PowerState {
        try lab.isPoweredOn(index) ? .on : .off
    }

    package func powerOff() async throws {
        guard try await powerState() == .on else { return }
        try await run(["lab", "kill", "node\(index)", "--mode", "crash", "--name", lab.name], timeout: .seconds(60))
    }

    package func powerOn() async throws {
        guard try await powerState() == .off else { return }
        try await run(["lab", "revive", "node\(index)", "--name", lab.name], timeout: .seconds(120))
    }

    package func reset() async throws {
        try await powerOff()
        try await powerOn()
    }

    /// Runs khactl with `arguments`, its output to a file: `revive` starts the node's daemons.
    private func run(_ arguments: [String], timeout: Duration) async throws {
        do {
            try await SubprocessRunner().check(Command(executable, arguments, timeout: timeout, outputToFile: true))
        } catch {
            throw LabBMCError(.command, error.description)
        }
    }
}

extension Lab {
    /// Starts one BMC per node in the switch namespace, each serving HTTPS on its node's BMC address
    /// (fence_redfish only speaks HTTPS; TLS is the BMC's own, with the lab's self-signed certificate).
    func startBMCs(_ state: inout LabState) async throws {
        guard let switchHolder = state.switchHolder else { throw LabError("lab \(name) has no switch") }
        let net = "--net=/proc/\(switchHolder.pid)/ns/net"
        let pem = folder.appendingPathComponent("bmc.pem").path
        try await BMCCertificate.generate(at: pem)
        for position in state.nodes.indices {
            let node = state.nodes[position]
            state.nodes[position].bmc = try Daemon.spawn(
                Command("nsenter", [
                    net, "--", Lab.executable, "lab", "bmc", "--listen", "\(node.bmcAddress):443", "--tls-pem", pem,
                    "--username", "admin", "--password-file", folder.appendingPathComponent("bmc-password").path,
                    "--lab", name, "--node", String(node.index),
                ], environment: ["KHACTL_LAB_ROOT": folder.deletingLastPathComponent().path]),
                log: folder.appendingPathComponent("bmc-\(node.name).log").path)
            try store.save(state)
        }
    }
}
