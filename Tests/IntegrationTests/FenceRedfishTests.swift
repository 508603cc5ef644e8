import Foundation
import KhactlCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The lab BMC behind haproxy's TLS on loopback, driven by the stock fence_redfish agent.
final class FencedBMC: @unchecked Sendable {
    // @unchecked Sendable: every property is set in start() before the value is shared, then never changed.
    static let haproxy = "/usr/sbin/haproxy"
    static let fenceRedfish = "/usr/sbin/fence_redfish"
    static let openssl = "/usr/bin/openssl"
    static let username = "admin"
    static let password = "fence-Me-7"

    let scratch: URL
    let bmc: RedfishBMC
    let log: LogRecorder
    let tlsPort: UInt16
    let passwordFile: String
    private var haproxyProcess: ChildProcess?

    /// Fails with a clear message when a tool the test needs is missing.
    static func requireTools() throws {
        for (tool, package) in [(haproxy, "haproxy"), (fenceRedfish, "fence-agents"), (openssl, "openssl")] {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                throw TestSetupError("\(tool) is missing: install the \(package) package (Scripts/install-deps.sh)")
            }
        }
    }

    /// Starts the BMC on an ephemeral port and haproxy with a fresh self-signed PEM in front of it.
    static func start(power: any PowerControl) throws -> FencedBMC {
        try requireTools()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "khactl-bmc-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let fixture = FencedBMC(scratch: scratch, power: power, tlsPort: try LoopbackHTTP.freePort())
        do {
            try fixture.startAll()
        } catch {
            fixture.stop()
            throw error
        }
        return fixture
    }

    private init(scratch: URL, power: any PowerControl, tlsPort: UInt16) {
        self.scratch = scratch
        self.log = LogRecorder()
        self.tlsPort = tlsPort
        self.passwordFile = scratch.appendingPathComponent("password").path
        self.bmc = RedfishBMC(
            host: "127.0.0.1", port: 0, credentials: BMCCredentials(username: Self.username, password: Self.password),
            systemID: "node2", power: power, log: log.sink)
    }

    private func startAll() throws {
        try "\(Self.password)\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try bmc.start()
        let pem = scratch.appendingPathComponent("bmc.pem").path
        try BMCTLSFrontend.generateSelfSignedPEM(at: pem, openssl: Self.openssl)
        let frontend = BMCTLSFrontend(
            address: "127.0.0.1", port: tlsPort, pemPath: pem, backendAddress: "127.0.0.1", backendPort: bmc.port)
        let configuration = scratch.appendingPathComponent("haproxy.cfg").path
        try frontend.configuration.write(toFile: configuration, atomically: true, encoding: .utf8)
        let haproxyLog = scratch.appendingPathComponent("haproxy.log").path
        let process = try ChildProcess.spawn(
            Self.haproxy, BMCTLSFrontend.haproxyArguments(configurationPath: configuration), log: haproxyLog)
        haproxyProcess = process
        let deadline = Date().addingTimeInterval(10)
        while !LoopbackHTTP.isAccepting(port: tlsPort) {
            guard process.isRunning, Date() < deadline else {
                let text = (try? String(contentsOfFile: haproxyLog, encoding: .utf8)) ?? ""
                throw TestSetupError(
                    "haproxy did not listen on 127.0.0.1:\(tlsPort) within 10 s; its log:\n\(text.suffix(2000))")
            }
            usleep(20_000)
        }
    }

    /// Stops haproxy (by PID) and the BMC, and removes the scratch folder: the reverse of start.
    func stop() {
        haproxyProcess?.terminate(grace: 5)
        bmc.stop()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// fence_redfish with options on the command line, the way an operator tests a device.
    func fenceCommandLine(_ action: String) throws -> CommandResult {
        // fence_redfish has no --password-file; --password-script is the file-based way (run by its shell).
        try runTool(
            Self.fenceRedfish,
            [
                "--ip=127.0.0.1", "--ipport=\(tlsPort)", "--username=\(Self.username)",
                "--password-script=/bin/cat \(passwordFile)", "--ssl-insecure", "--action=\(action)",
            ])
    }

    /// fence_redfish with options on stdin, the way Pacemaker's fencer runs it.
    func fenceAsPacemaker(_ action: String, password: String = FencedBMC.password) throws -> CommandResult {
        try runTool(
            Self.fenceRedfish, [],
            stdin: """
                action=\(action)
                ip=127.0.0.1
                ipport=\(tlsPort)
                username=\(Self.username)
                password=\(password)
                ssl_insecure=1

                """)
    }
}

/// Runs `body` with a fenced BMC and stops it afterwards, also when `body` throws.
func withFencedBMC<T>(power: any PowerControl, _ body: (FencedBMC) async throws -> T) async throws -> T {
    let fixture = try FencedBMC.start(power: power)
    defer { fixture.stop() }
    return try await body(fixture)
}

@Suite("Lab BMC: the stock fence_redfish through haproxy TLS", .serialized)
struct FenceRedfishTests {
    @Test("status, off, on and reboot through fence_redfish reach the power control")
    func fenceActions() async throws {
        let power = RecordingPowerControl()
        try await withFencedBMC(power: power) { lab in
            let status = try lab.fenceCommandLine("status")
            #expect(status.status == 0, "stdout: \(status.stdout) stderr: \(status.stderr)")
            #expect(status.stdout.contains("Status: ON"))
            #expect(power.calls.isEmpty)

            let off = try lab.fenceAsPacemaker("off")
            #expect(off.status == 0, "stdout: \(off.stdout) stderr: \(off.stderr)")
            #expect(off.stdout.contains("Success: Powered OFF"))
            #expect(power.calls == [.powerOff])
            #expect(lab.log.lines.contains("reset requested: ResetType=ForceOff"))

            // fence-agents report status OFF with exit status 2 (fencing.py's fence_action).
            let offStatus = try lab.fenceCommandLine("status")
            #expect(offStatus.status == 2, "stdout: \(offStatus.stdout) stderr: \(offStatus.stderr)")
            #expect(offStatus.stdout.contains("Status: OFF"))

            let offAgain = try lab.fenceAsPacemaker("off")
            #expect(offAgain.status == 0)
            #expect(offAgain.stdout.contains("Success: Already OFF"))
            #expect(power.calls == [.powerOff])

            let on = try lab.fenceAsPacemaker("on")
            #expect(on.status == 0, "stdout: \(on.stdout) stderr: \(on.stderr)")
            #expect(on.stdout.contains("Success: Powered ON"))
            #expect(power.calls == [.powerOff, .powerOn])
            #expect(lab.log.lines.contains("reset requested: ResetType=On"))
            #expect(try lab.fenceCommandLine("status").stdout.contains("Status: ON"))

            // fence_redfish reboots as ForceOff, poll until Off, On, poll until On; it only sends
            // ForceRestart for its diag action's cycle method, never for reboot.
            let reboot = try lab.fenceAsPacemaker("reboot")
            #expect(reboot.status == 0, "stdout: \(reboot.stdout) stderr: \(reboot.stderr)")
            #expect(reboot.stdout.contains("Success: Rebooted"))
            #expect(power.calls == [.powerOff, .powerOn, .powerOff, .powerOn])
            #expect(power.power == .on)

            let monitor = try lab.fenceAsPacemaker("monitor")
            #expect(monitor.status == 0, "stdout: \(monitor.stdout) stderr: \(monitor.stderr)")
        }
    }

    @Test("a wrong password makes fence_redfish fail without any power change")
    func wrongPassword() async throws {
        let power = RecordingPowerControl()
        try await withFencedBMC(power: power) { lab in
            for action in ["status", "off", "reboot"] {
                let result = try lab.fenceAsPacemaker(action, password: "not-it")
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
            let off = try lab.fenceAsPacemaker("off")
            #expect(off.status == 0, "stdout: \(off.stdout) stderr: \(off.stderr)")
            #expect(FileManager.default.fileExists(atPath: offMarker))
            #expect(!FileManager.default.fileExists(atPath: onMarker))
            #expect(try String(contentsOfFile: stateFile, encoding: .utf8) == "Off\n")
            #expect(try lab.fenceCommandLine("status").status == 2)

            let on = try lab.fenceAsPacemaker("on")
            #expect(on.status == 0, "stdout: \(on.stdout) stderr: \(on.stderr)")
            #expect(FileManager.default.fileExists(atPath: onMarker))
            #expect(try String(contentsOfFile: stateFile, encoding: .utf8) == "On\n")
        }
    }
}
