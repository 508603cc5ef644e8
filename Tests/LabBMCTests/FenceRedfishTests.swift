import Foundation
import KhactlCore
import KhactlLab
import LabBMC
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The lab BMC serving HTTPS itself on loopback, driven by the stock fence_redfish agent.
final class FencedBMC: @unchecked Sendable {
    // @unchecked Sendable: every property is set in start() before the value is shared, then never changed.
    static let fenceRedfish = "/usr/sbin/fence_redfish"
    static let openssl = "/usr/bin/openssl"
    static let username = "admin"
    static let password = "fence-Me-7"

    let scratch: URL
    let bmc: RedfishBMC
    let log: LogRecorder
    let passwordFile: String
    var tlsPort: UInt16 { bmc.port }

    /// Fails with a clear message when a tool the test needs is missing.
    static func requireTools() throws {
        for (tool, package) in [(fenceRedfish, "fence-agents"), (openssl, "openssl")] {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                throw TestSetupError("\(tool) is missing: install the \(package) package (Scripts/install-deps.sh)")
            }
        }
    }

    /// Starts the BMC with a fresh self-signed PEM on an ephemeral port.
    static func start(power: any PowerControl) async throws -> FencedBMC {
        try requireTools()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "khactl-bmc-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        do {
            let pem = scratch.appendingPathComponent("bmc.pem").path
            try await BMCCertificate.generate(at: pem, openssl: openssl)
            let fixture = try FencedBMC(scratch: scratch, pem: pem, power: power)
            try "\(Self.password)\n".write(toFile: fixture.passwordFile, atomically: true, encoding: .utf8)
            try await fixture.bmc.start()
            return fixture
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw error
        }
    }

    private init(scratch: URL, pem: String, power: any PowerControl) throws {
        self.scratch = scratch
        self.log = LogRecorder()
        self.passwordFile = scratch.appendingPathComponent("password").path
        self.bmc = try RedfishBMC(
            host: "127.0.0.1", port: 0, tlsPEM: pem,
            credentials: BMCCredentials(username: Self.username, password: Self.password), systemID: "node2",
            power: power, log: log.sink)
    }

    /// Stops the BMC and removes the scratch folder.
    func stop() async {
        await bmc.stop()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// khactl's compiled agent: the built khactl, run through a link named fence_khactl (as `khactl fence-agent
    /// install` makes in /usr/sbin).
    static var fenceKhactl: String {
        get throws {
            let link = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-fence-agent/fence_khactl").path
            let binary = productsDirectory.appendingPathComponent("khactl").path
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != binary {
                try FileManager.default.createDirectory(
                    atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try? FileManager.default.removeItem(atPath: link)
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: binary)
            }
            return link
        }
    }

    /// The agent (fence_redfish, or fence_khactl) with options on the command line, the way an operator tests a
    /// device.
    func fenceCommandLine(_ action: String, agent: String = FencedBMC.fenceRedfish) async throws -> CommandResult {
        // fence_redfish has no --password-file; --password-script is the file-based way (run by its shell).
        try await offPool { [self] in try runTool(
            agent,
            [
                "--ip=127.0.0.1", "--ipport=\(tlsPort)", "--username=\(Self.username)",
                "--password-script=/bin/cat \(passwordFile)", "--ssl-insecure", "--action=\(action)",
            ]) }
    }

    /// The agent with options on stdin, the way Pacemaker's fencer runs it.
    func fenceAsPacemaker(
        _ action: String, password: String = FencedBMC.password, agent: String = FencedBMC.fenceRedfish
    ) async throws -> CommandResult {
        try await offPool { [self] in try runTool(
            agent, [],
            stdin: """
                action=\(action)
                ip=127.0.0.1
                ipport=\(tlsPort)
                username=\(Self.username)
                password=\(password)
                ssl_insecure=1

                """) }
    }
}

/// Runs `body` with a fenced BMC and stops it afterwards, also when `body` throws.
func withFencedBMC<T>(power: any PowerControl, _ body: (FencedBMC) async throws -> T) async throws -> T {
    let fixture = try await FencedBMC.start(power: power)
    do {
        let result = try await body(fixture)
        await fixture.stop()
        return result
    } catch {
        await fixture.stop()
        throw error
    }
}

/// The agent named `name` (`fence_redfish` or `fence_khactl`).
func fenceAgent(_ name: String) throws -> String {
    name == "fence_khactl" ? try FencedBMC.fenceKhactl : FencedBMC.fenceRedfish
}

@Suite("Lab BMC: fence_redfish and khactl's fence_khactl against its HTTPS", .serialized)
struct FenceRedfishTests {
    /// Both agents must give the same outputs, exit statuses and power calls: fence_khactl replaces fence_redfish by
    /// changing only a device's type.
    @Test("status, off, on and reboot reach the power control, the same through both agents", arguments: ["fence_redfish", "fence_khactl"])
    func fenceActions(agentName: String) async throws {
        let power = RecordingPowerControl()
        let agent = try fenceAgent(agentName)
        try await withFencedBMC(power: power) { lab in
            func fenceCommandLine(_ action: String) async throws -> CommandResult { try await lab.fenceCommandLine(action, agent: agent) }
            func fenceAsPacemaker(_ action: String) async throws -> CommandResult { try await lab.fenceAsPacemaker(action, agent: agent) }
            let status = try await fenceCommandLine("status")
            #expect(status.status == 0, "stdout: \(status.stdout) stderr: \(status.stderr)")
            #expect(status.stdout.contains("Status: ON"))
            #expect(power.calls.isEmpty)

            let off = try await fenceAsPacemaker("off")
            #expect(off.status == 0, "stdout: \(off.stdout) stderr: \(off.stderr)")
            #expect(off.stdout.contains("Success: Powered OFF"))
            #expect(power.calls == [.powerOff])
            #expect(lab.log.lines.contains("reset requested: ResetType=ForceOff"))

            // fence-agents report status OFF with exit status 2 (fencing.py's fence_action).
            let offStatus = try await fenceCommandLine("status")
            #expect(offStatus.status == 2, "stdout: \(offStatus.stdout) stderr: \(offStatus.stderr)")
            #expect(offStatus.stdout.contains("Status: OFF"))

            let offAgain = try await fenceAsPacemaker("off")
            #expect(offAgain.status == 0)
            #expect(offAgain.stdout.contains("Success: Already OFF"))
            #expect(power.calls == [.powerOff])

            let on = try await fenceAsPacemaker("on")
            #expect(on.status == 0, "stdout: \(on.stdout) stderr: \(on.stderr)")
            #expect(on.stdout.contains("Success: Powered ON"))
            #expect(power.calls == [.powerOff, .powerOn])
            #expect(lab.log.lines.contains("reset requested: ResetType=On"))
            #expect(try await fenceCommandLine("status").stdout.contains("Status: ON"))

            // fence_redfish reboots as ForceOff, poll until Off, On, poll until On; it only sends
            // ForceRestart for its diag action's cycle method, never for reboot.
            let reboot = try await fenceAsPacemaker("reboot")
            #expect(reboot.status == 0, "stdout: \(reboot.stdout) stderr: \(reboot.stderr)")
            #expect(reboot.stdout.contains("Success: Rebooted"))
            #expect(power.calls == [.powerOff, .powerOn, .powerOff, .powerOn])
            #expect(power.power == .on)

            let monitor = try await fenceAsPacemaker("monitor")
            #expect(monitor.status == 0, "stdout: \(monitor.stdout) stderr: \(monitor.stderr)")
        }
    }

    @Test("a wrong password makes either agent fail without any power change", arguments: ["fence_redfish", "fence_khactl"])
    func wrongPassword(agentName: String) async throws {
        let power = RecordingPowerControl()
        let agent = try fenceAgent(agentName)
        try await withFencedBMC(power: power) { lab in
            for action in ["status", "off", "reboot"] {
                let result = try await lab.fenceAsPacemaker(action, password: "not-it", agent: agent)
                #expect(result.status != 0, "\(action) stdout: \(result.stdout) stderr: \(result.stderr)")
                #expect(!result.stdout.contains("Success"))
            }
            #expect(power.calls.isEmpty)
            #expect(power.power == .on)
            #expect(lab.log.lines.contains { $0.contains("/redfish/v1/Systems -> 401") })
        }
    }

    @Test("fence_redfish off and on through FilePowerControl run the configured commands")
    func fileBackedPower() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "khactl-bmc-file-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let stateFile = folder.appendingPathComponent("power").path
        let offMarker = folder.appendingPathComponent("killed").path
        let onMarker = folder.appendingPathComponent("revived").path
        let power = FilePowerControl(
            stateFile: stateFile, powerOffCommand: ["touch", offMarker], powerOnCommand: ["/usr/bin/touch", onMarker])
        try await withFencedBMC(power: power) { lab in
            let off = try await lab.fenceAsPacemaker("off")
            #expect(off.status == 0, "stdout: \(off.stdout) stderr: \(off.stderr)")
            #expect(FileManager.default.fileExists(atPath: offMarker))
            #expect(!FileManager.default.fileExists(atPath: onMarker))
            #expect(try String(contentsOfFile: stateFile, encoding: .utf8) == "Off\n")
            #expect(try await lab.fenceCommandLine("status").status == 2)

            let on = try await lab.fenceAsPacemaker("on")
            #expect(on.status == 0, "stdout: \(on.stdout) stderr: \(on.stderr)")
            #expect(FileManager.default.fileExists(atPath: onMarker))
            #expect(try String(contentsOfFile: stateFile, encoding: .utf8) == "On\n")
        }
    }
}
