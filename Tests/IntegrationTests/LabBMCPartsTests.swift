import ArgumentParser
import Foundation
import KhactlCore
import Testing

/// A scratch folder removed when `body` ends, also when it throws.
func withScratchFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "khactl-bmc-parts-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

@Suite("Lab BMC: power state file, TLS frontend, credentials and the bmc command")
struct LabBMCPartsTests {
    @Test("FilePowerControl runs the commands only on a change and records the state after success")
    func filePowerControl() throws {
        try withScratchFolder { folder in
            let state = folder.appendingPathComponent("state").path
            let offLog = folder.appendingPathComponent("off-ran").path
            let onLog = folder.appendingPathComponent("on-ran").path
            // `--` and `--mode`-style arguments pass through untouched: no shell ever sees them.
            let power = FilePowerControl(
                stateFile: state, powerOffCommand: ["/usr/bin/touch", "--", offLog],
                powerOnCommand: ["/usr/bin/touch", "--no-create", "--", onLog, "/dev/null"])
            #expect(try power.powerState() == .on)
            try power.powerOn()
            #expect(!FileManager.default.fileExists(atPath: state))

            try power.powerOff()
            #expect(FileManager.default.fileExists(atPath: offLog))
            #expect(try power.powerState() == .off)
            try FileManager.default.removeItem(atPath: offLog)
            try power.powerOff()
            #expect(!FileManager.default.fileExists(atPath: offLog))

            _ = FileManager.default.createFile(atPath: onLog, contents: nil)
            try power.powerOn()
            #expect(try power.powerState() == .on)

            try power.reset()
            #expect(FileManager.default.fileExists(atPath: offLog))
            #expect(try String(contentsOfFile: state, encoding: .utf8) == "On\n")
        }
    }

    @Test("a failing or hanging power command throws and leaves the state unchanged")
    func failingCommand() throws {
        try withScratchFolder { folder in
            let state = folder.appendingPathComponent("state").path
            let failing = FilePowerControl(stateFile: state, powerOffCommand: ["/bin/false"])
            let error = try #require(throws: LabBMCError.self) { try failing.powerOff() }
            #expect(error.code == .command)
            #expect(error.message.contains("/bin/false exited with status 1"))
            #expect(try failing.powerState() == .on)

            let missing = FilePowerControl(stateFile: state, powerOffCommand: ["khactl-no-such-program"])
            let notFound = try #require(throws: LabBMCError.self) { try missing.powerOff() }
            #expect(notFound.message.contains("khactl-no-such-program"))

            let hanging = FilePowerControl(
                stateFile: state, powerOffCommand: ["/bin/sleep", "30"], commandTimeout: 0.5)
            let started = Date()
            let timeout = try #require(throws: LabBMCError.self) { try hanging.powerOff() }
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(timeout.message.contains("did not finish within"))
            #expect(try hanging.powerState() == .on)

            try "Sideways\n".write(toFile: state, atomically: true, encoding: .utf8)
            let garbled = try #require(throws: LabBMCError.self) { try hanging.powerState() }
            #expect(garbled.code == .stateFile)
        }
    }

    @Test("the haproxy configuration binds TLS on the given address and forwards to the BMC; haproxy accepts it")
    func tlsFrontend() throws {
        try FencedBMC.requireTools()
        try withScratchFolder { folder in
            let pem = folder.appendingPathComponent("bmc.pem").path
            try BMCTLSFrontend.generateSelfSignedPEM(at: pem, openssl: FencedBMC.openssl)
            let text = try String(contentsOfFile: pem, encoding: .utf8)
            #expect(text.contains("-----BEGIN CERTIFICATE-----"))
            #expect(text.contains("-----BEGIN PRIVATE KEY-----"))
            #expect(text.range(of: "CERTIFICATE")!.lowerBound < text.range(of: "PRIVATE KEY")!.lowerBound)
            let mode = try FileManager.default.attributesOfItem(atPath: pem)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let subject = try runTool(FencedBMC.openssl, ["x509", "-in", pem, "-noout", "-subject"])
            #expect(subject.stdout.contains("CN = khactl-lab-bmc"))

            for (address, bind, server) in [
                ("127.0.0.1", "bind 127.0.0.1:443 ssl crt \(pem)", "server bmc 127.0.0.1:8000"),
                ("::1", "bind ipv6@::1:443 ssl crt \(pem)", "server bmc 127.0.0.1:8000"),
            ] {
                let frontend = BMCTLSFrontend(
                    address: address, pemPath: pem, backendAddress: "127.0.0.1", backendPort: 8000)
                #expect(frontend.configuration.contains(bind))
                #expect(frontend.configuration.contains(server))
                let configuration = folder.appendingPathComponent("haproxy.cfg").path
                try frontend.configuration.write(toFile: configuration, atomically: true, encoding: .utf8)
                let check = try runTool(FencedBMC.haproxy, ["-c", "-f", configuration])
                #expect(check.status == 0, "haproxy -c: \(check.stdout) \(check.stderr)")
            }
            #expect(BMCTLSFrontend.haproxyArguments(configurationPath: "/x.cfg") == ["-f", "/x.cfg", "-db"])
        }
    }

    @Test("the password file's trailing line break is dropped; missing or empty files are refused")
    func passwordFile() throws {
        try withScratchFolder { folder in
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
