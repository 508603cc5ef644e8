import ArgumentParser
import Foundation
import KhactlCore
import KhactlLab
import LabBMC
import Testing
import TestSupport

/// A scratch folder removed when `body` ends, also when it throws.
func withScratchFolder<T>(_ body: (URL) async throws -> T) async throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "khactl-bmc-parts-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try await body(folder)
}

@Suite("Lab BMC: power state file, TLS frontend, credentials and the bmc command")
struct LabBMCPartsTests {
    @Test("FilePowerControl runs the commands only on a change and records the state after success")
    func filePowerControl() async throws {
        try await withScratchFolder { folder in
            let state = folder.appendingPathComponent("state").path
            let offLog = folder.appendingPathComponent("off-ran").path
            let onLog = folder.appendingPathComponent("on-ran").path
            // `--` and `--mode`-style arguments pass through untouched: no shell ever sees them.
            let power = FilePowerControl(
                stateFile: state, powerOffCommand: ["/usr/bin/touch", "--", offLog],
                powerOnCommand: ["/usr/bin/touch", "--no-create", "--", onLog, "/dev/null"])
            #expect(try await power.powerState() == .on)
            try await power.powerOn()
            #expect(!FileManager.default.fileExists(atPath: state))

            try await power.powerOff()
            #expect(FileManager.default.fileExists(atPath: offLog))
            #expect(try await power.powerState() == .off)
            try FileManager.default.removeItem(atPath: offLog)
            try await power.powerOff()
            #expect(!FileManager.default.fileExists(atPath: offLog))

            _ = FileManager.default.createFile(atPath: onLog, contents: nil)
            try await power.powerOn()
            #expect(try await power.powerState() == .on)

            try await power.reset()
            #expect(FileManager.default.fileExists(atPath: offLog))
            #expect(try String(contentsOfFile: state, encoding: .utf8) == "On\n")
        }
    }

    @Test("a failing or hanging power command throws and leaves the state unchanged")
    func failingCommand() async throws {
        try await withScratchFolder { folder in
            let state = folder.appendingPathComponent("state").path
            let failing = FilePowerControl(stateFile: state, powerOffCommand: ["/bin/false"])
            let error = try await #require(throws: LabBMCError.self) { try await failing.powerOff() }
            #expect(error.code == .command)
            #expect(error.message == "`/bin/false` exited 1: (no output)")
            #expect(try await failing.powerState() == .on)

            let missing = FilePowerControl(stateFile: state, powerOffCommand: ["khactl-no-such-program"])
            let notFound = try await #require(throws: LabBMCError.self) { try await missing.powerOff() }
            #expect(notFound.message.hasPrefix("could not run `khactl-no-such-program`: "))

            let hanging = FilePowerControl(
                stateFile: state, powerOffCommand: ["/bin/sleep", "30"], commandTimeout: 0.5)
            let timeout = try await #require(throws: LabBMCError.self) { try await hanging.powerOff() }
            #expect(timeout.message == "`/bin/sleep 30` did not finish within 0.5 seconds and was stopped")
            #expect(try await hanging.powerState() == .on)

            try "Sideways\n".write(toFile: state, atomically: true, encoding: .utf8)
            let garbled = try await #require(throws: LabBMCError.self) { try await hanging.powerState() }
            #expect(garbled.code == .stateFile)
        }
    }

    @Test("a power command's output goes to a file, so a daemon it leaves behind does not hold the command up")
    func daemonLeftBehind() async throws {
        try await withScratchFolder { folder in
            let state = folder.appendingPathComponent("state").path
            // The background sleep keeps the command's stdout and stderr: through pipes, the command would
            // seem to run for 30 s and time out at 5.
            let power = FilePowerControl(
                stateFile: state, powerOffCommand: ["/bin/sh", "-c", "/bin/sleep 30 & echo started"], commandTimeout: 5)
            try await power.powerOff()
            #expect(try await power.powerState() == .off)
        }
    }

    @Test("the certificate file: certificate then key, mode 0600, CN khactl-lab-bmc; the BMC serves HTTPS with it")
    func certificate() async throws {
        try FencedBMC.requireTools()
        try await withScratchFolder { folder in
            let pem = folder.appendingPathComponent("bmc.pem").path
            try await BMCCertificate.generate(at: pem, openssl: FencedBMC.openssl)
            let text = try String(contentsOfFile: pem, encoding: .utf8)
            #expect(text.hasPrefix("-----BEGIN CERTIFICATE-----"))
            #expect(text.contains("-----BEGIN PRIVATE KEY-----"))
            #expect(text.range(of: "CERTIFICATE")!.lowerBound < text.range(of: "PRIVATE KEY")!.lowerBound)
            let mode = try FileManager.default.attributesOfItem(atPath: pem)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let subject = try runTool(FencedBMC.openssl, ["x509", "-in", pem, "-noout", "-subject"])
            #expect(subject.stdout == "subject=CN = khactl-lab-bmc\n")

            let bmc = try RedfishBMC(
                host: "127.0.0.1", port: 0, tlsPEM: pem, credentials: BMCCredentials(username: "a", password: "b"),
                power: RecordingPowerControl())
            try await bmc.start()
            let port = bmc.port
            let served = try await offPool {
                try runTool("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "bmc"], stdin: "")
            }
            await bmc.stop()
            #expect(served.stdout.contains("subject=CN = khactl-lab-bmc"), "\(served.stdout) \(served.stderr)")

            let broken = folder.appendingPathComponent("broken.pem").path
            try "not a PEM\n".write(toFile: broken, atomically: true, encoding: .utf8)
            let error = #expect(throws: LabBMCError.self) {
                try RedfishBMC(
                    host: "127.0.0.1", port: 0, tlsPEM: broken, credentials: BMCCredentials(username: "a", password: "b"),
                    power: RecordingPowerControl())
            }
            #expect(error?.code == .configuration)
        }
    }

    @Test("the password file's trailing line break is dropped; missing or empty files are refused")
    func passwordFile() async throws {
        try await withScratchFolder { folder in
            let path = folder.appendingPathComponent("password").path
            try "pa ss\r\n".write(toFile: path, atomically: true, encoding: .utf8)
            let credentials = try BMCCredentials(username: "admin", passwordFile: path)
            #expect(!String(describing: credentials).contains("pa ss"))
            try "\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: LabBMCError.self) { try BMCCredentials(username: "admin", passwordFile: path) }
            #expect(throws: LabBMCError.self) {
                try BMCCredentials(username: "admin", passwordFile: folder.appendingPathComponent("nope").path)
            }
        }
    }

    @Test(
        "--listen takes HOST:PORT and [IPV6]:PORT",
        arguments: [
            ("127.0.0.1:8000", BMCListenAddress(host: "127.0.0.1", port: 8000)),
            ("[::1]:443", BMCListenAddress(host: "::1", port: 443)),
            ("0.0.0.0:0", BMCListenAddress(host: "0.0.0.0", port: 0)),
            ("::1:443", nil), ("127.0.0.1", nil), ("127.0.0.1:70000", nil), (":80", nil), ("[]:80", nil),
            ("host:port", nil),
        ] as [(String, BMCListenAddress?)])
    func listenAddress(argument: String, expected: BMCListenAddress?) {
        #expect(BMCListenAddress(argument: argument) == expected)
    }

    @Test("the bmc command keeps power commands as exact argument arrays, options and all")
    func commandOptions() throws {
        let command = try LabBMCCommand.parse([
            "--listen", "[::1]:8443", "--username", "admin", "--password-file", "/etc/khactl/bmc.password",
            "--state-file", "/run/khactl/node2.power", "--system-id", "node2",
            "--power-off-command", "khactl", "--power-off-command", "lab", "--power-off-command", "kill",
            "--power-off-command", "node2", "--power-off-command", "--mode", "--power-off-command", "crash",
            "--power-on-command", "khactl", "--power-on-command", "lab", "--power-on-command", "revive",
            "--power-on-command", "node2",
        ])
        #expect(command.listen == BMCListenAddress(host: "::1", port: 8443))
        #expect(command.powerOffCommand == ["khactl", "lab", "kill", "node2", "--mode", "crash"])
        #expect(command.powerOnCommand == ["khactl", "lab", "revive", "node2"])
        #expect(command.tlsPEM == nil)
        let power = try #require(command.powerControl as? FilePowerControl)
        #expect(power.stateFile == "/run/khactl/node2.power")
        #expect(power.commandTimeout == 120)
        #expect(LabBMCCommand.configuration.commandName == "bmc")
        #expect(LabBMCCommand.configuration.shouldDisplay == false)

        #expect(throws: (any Error).self) {
            try LabBMCCommand.parse([
                "--listen", "nowhere", "--username", "a", "--password-file", "p", "--state-file", "s",
            ])
        }
        #expect(throws: (any Error).self) {
            try LabBMCCommand.parse([
                "--listen", "127.0.0.1:1", "--username", "a", "--password-file", "p", "--state-file", "s",
                "--system-id", "a/b",
            ])
        }
        #expect(throws: (any Error).self) { try LabBMCCommand.parse(["--listen", "127.0.0.1:1"]) }
    }
}
