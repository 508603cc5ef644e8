import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import KhactlCore
import LabBMC
import Testing
import TestSupport

/// khactl's compiled fence agent: what it prints and sends, exactly, and what it refuses before sending anything.
@Suite("fence_khactl: the compiled Redfish agent", .serialized)
struct FenceKhactlTests {
    /// The BMC's request lines (not its start/stop lines).
    static func requests(_ log: LogRecorder) -> [String] {
        log.lines.filter { $0.hasPrefix("GET ") || $0.hasPrefix("POST ") || $0.hasPrefix("reset ") }
    }

    @Test("each action prints fence-agents' line; with systems_uri no discovery request is made; the password file is read")
    func exactOutput() async throws {
        let power = RecordingPowerControl()
        let agent = try FencedBMC.fenceKhactl
        try await withFencedBMC(power: power) { lab in
            func run(_ action: String) async throws -> CommandResult {
                try await offPool { try runTool(agent, [], stdin: """
                    action=\(action)
                    ip=127.0.0.1
                    ipport=\(lab.tlsPort)
                    username=\(FencedBMC.username)
                    password_script=cat \(lab.passwordFile)
                    ssl_insecure=1
                    systems_uri=/redfish/v1/Systems/node2
                    nodename=node2
                    pcmk_host_list=node2

                    """) }
            }
            let expected: [(String, Int32, String, [RecordingPowerControl.Call])] = [
                ("status", 0, "Status: ON\n", []),
                ("off", 0, "Success: Powered OFF\n", [.powerOff]),
                ("status", 2, "Status: OFF\n", [.powerOff]),
                ("off", 0, "Success: Already OFF\n", [.powerOff]),
                ("on", 0, "Success: Powered ON\n", [.powerOff, .powerOn]),
                ("on", 0, "Success: Already ON\n", [.powerOff, .powerOn]),
                ("reboot", 0, "Success: Rebooted\n", [.powerOff, .powerOn, .powerOff, .powerOn]),
                ("monitor", 0, "", [.powerOff, .powerOn, .powerOff, .powerOn]),
            ]
            for (action, status, stdout, calls) in expected {
                let result = try await run(action)
                #expect(result.status == status, "\(action): \(result.stderr)")
                #expect(result.stdout == stdout, "\(action)")
                // An unknown parameter is said, as fence-agents do; Pacemaker's own (nodename) are known.
                #expect(result.stderr == "fence_khactl: ignoring unknown parameter 'pcmk_host_list'\n", "\(action)")
                #expect(power.calls == calls, "\(action)")
            }
            let system = "GET /redfish/v1/Systems/node2 -> 200"
            let reset = "POST /redfish/v1/Systems/node2/Actions/ComputerSystem.Reset -> 204"
            // off from on: the state, the reset, the state again (already off at the first check).
            #expect(Array(Self.requests(lab.log).prefix(5)) == [system, system, "reset requested: ResetType=ForceOff", reset, system])
            #expect(!lab.log.lines.contains { $0.hasPrefix("GET /redfish/v1 ") || $0.hasPrefix("GET /redfish/v1/Systems ->") })
        }
    }

    @Test("a wrong password: exit 1, the BMC's refusal named, no power change")
    func wrongPassword() async throws {
        let power = RecordingPowerControl()
        let agent = try FencedBMC.fenceKhactl
        try await withFencedBMC(power: power) { lab in
            let result = try await lab.fenceAsPacemaker("off", password: "not-it", agent: agent)
            #expect(result.status == 1)
            #expect(result.stdout == "")
            #expect(result.stderr == "fence_khactl: Failed: GET /redfish/v1/Systems: the BMC refused the credentials (HTTP 401)\n")
            #expect(power.calls.isEmpty)
        }
    }

    @Test(
        "bad parameters are refused with a clear error before any request",
        arguments: [
            (["--action=off", "--ip=127.0.0.1", "--username=admin", "--password=fence-Me-7"], nil,
             "a password on the command line is visible to every user (ps); give it on standard input (password=...) or with --password-script"),
            (["-o", "off", "-a", "127.0.0.1", "-l", "admin", "-p", "fence-Me-7"], nil,
             "a password on the command line is visible to every user (ps); give it on standard input (password=...) or with --password-script"),
            ([], "action=shutdown\nip=127.0.0.1\nusername=admin\npassword=x\n",
             "action 'shutdown' is not one of on, off, reboot, status, monitor, metadata, validate-all"),
            ([], "action=off\nusername=admin\npassword=x\n", "ip (the BMC's address) is required"),
            ([], "action=off\nip=127.0.0.1\npassword=x\n", "username is required"),
            ([], "action=off\nip=127.0.0.1\nusername=admin\n", "password (on standard input) or password_script is required"),
            ([], "action=off\nip=127.0.0.1\nipport=70000\nusername=admin\npassword=x\n", "ipport '70000' is not a TCP port (1-65535)"),
            ([], "action=off\nip=127.0.0.1\nusername=admin\npassword=x\nssl_insecure=maybe\n", "ssl_insecure 'maybe' is not a boolean (1 or 0)"),
            ([], "action=off\nip=127.0.0.1\nusername=admin\npassword=x\npower_timeout=-1\n", "power_timeout '-1' is not a number of seconds"),
            ([], "action=off\nip=127.0.0.1\nusername=admin\npassword=x\nsystems_uri=Systems/1\n",
             "systems_uri 'Systems/1' is not an absolute URI path (e.g. /redfish/v1/Systems/1)"),
            (["--action=off", "--bogus"], nil, "unknown option --bogus"),
        ] as [([String], String?, String)])
    func badParameters(arguments: [String], stdin: String?, message: String) async throws {
        let power = RecordingPowerControl()
        let agent = try FencedBMC.fenceKhactl
        try await withFencedBMC(power: power) { lab in
            let result = try await offPool { try runTool(agent, arguments, stdin: stdin ?? "") }
            #expect(result.status == 1)
            #expect(result.stdout == "")
            #expect(result.stderr == "fence_khactl: Failed: \(message)\n")
            #expect(Self.requests(lab.log).isEmpty)
            #expect(power.calls.isEmpty)
        }
    }

    @Test("metadata: fence-agents' format with fence_redfish's parameter names, the same as `khactl fence-agent metadata`")
    func metadata() async throws {
        let agent = try FencedBMC.fenceKhactl
        let result = try await offPool { try runTool(agent, ["-o", "metadata"]) }
        #expect(result.status == 0)
        #expect(result.stdout == RedfishFenceAgent.metadata)
        let document = try XMLDocument(data: Data(result.stdout.utf8))
        #expect(try document.nodes(forXPath: "/resource-agent/@name").map(\.stringValue) == ["fence_khactl"])
        let names = try document.nodes(forXPath: "/resource-agent/parameters/parameter/@name").compactMap(\.stringValue)
        let redfish = try toolOutput(FencedBMC.fenceRedfish, ["-o", "metadata"])
        let redfishNames = Set(try XMLDocument(data: Data(redfish.utf8)).nodes(forXPath: "//parameter/@name").compactMap(\.stringValue))
        // Every parameter fence_khactl documents is one fence_redfish has, so a device's attributes carry over.
        #expect(Set(names).subtracting(redfishNames).isEmpty, "\(Set(names).subtracting(redfishNames))")
        #expect(try document.nodes(forXPath: "/resource-agent/actions/action/@name").compactMap(\.stringValue)
            == ["on", "off", "reboot", "status", "monitor", "metadata", "validate-all"])
        let viaCommand = try runKhactl(["fence-agent", "metadata"])
        #expect(viaCommand.stdout == result.stdout)
    }

    @Test("fence-agent install refuses a folder another user can write, and links once")
    func install() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-fence-install-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let binary = productsDirectory.appendingPathComponent("khactl").resolvingSymlinksInPath().path
        chmod(scratch.path, 0o777)
        let refused = try runKhactl(["fence-agent", "install", "--directory", scratch.path])
        #expect(refused.status == 1)
        #expect(refused.stderr == "Error: fence-agent install: \(scratch.path) is owned or writable by another user than root; Pacemaker runs fence agents as root\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
        chmod(scratch.path, 0o755)
        let first = try runKhactl(["fence-agent", "install", "--directory", scratch.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == "\(scratch.path)/fence_khactl -> \(binary)\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.appendingPathComponent("fence_khactl").path) == binary)
        let second = try runKhactl(["fence-agent", "install", "--directory", scratch.path])
        #expect(second.stdout == "\(scratch.path)/fence_khactl already links to \(binary)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["fence_khactl"])
    }
}
