import Foundation
import KhactlLab
import LabBMC
import Testing
import TestSupport

@testable import KhactlCore

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Lab BMC: idle and many clients, big bodies, and what power commands inherit")
struct RedfishBMCLimitsTests {
    @Test("an idle connection is closed after the idle timeout; one in use is not")
    func idle() async throws {
        let bmc = try RedfishBMC(
            host: "127.0.0.1", port: 0, credentials: BMCCredentials(username: "a", password: "b"),
            power: RecordingPowerControl(), idleTimeout: .seconds(1))
        try await bmc.start()
        let port = bmc.port
        let (closedAfter, answered) = try await offPool {
            let idle = try LoopbackHTTP.connect(port: port)
            defer { close(idle) }
            let started = Date()
            let rest = try LoopbackHTTP.readToEnd(idle)
            let closedAfter = Date().timeIntervalSince(started)
            // A connection that keeps asking stays open past the timeout.
            let busy = try LoopbackHTTP.connect(port: port)
            defer { close(busy) }
            var buffer: [UInt8] = []
            var answered: [Int] = []
            for _ in 0..<4 {
                try LoopbackHTTP.send(busy, Array("GET /redfish/v1 HTTP/1.1\r\n\r\n".utf8))
                answered.append(try LoopbackHTTP.readResponse(busy, buffer: &buffer).status)
                usleep(500_000)
            }
            #expect(rest.isEmpty)
            return (closedAfter, answered)
        }
        await bmc.stop()
        #expect(closedAfter >= 0.9)
        #expect(answered == [200, 200, 200, 200])
    }

    @Test("a body over 64 KiB gets 413 and no power call")
    func bigBody() async throws {
        try await withBMC { bmc in
            let port = bmc.port
            let auth = bmc.auth
            let response = try await offPool {
                try LoopbackHTTP.request(
                    port: port, "POST", RedfishBMCTests.resetPath, auth: auth,
                    body: #"{"ResetType":"ForceOff","X":""# + String(repeating: "a", count: 70_000) + #""}"#)
            }
            #expect(response.status == 413)
            #expect(response.redfishErrorCode == "Base.1.8.GeneralError")
            #expect(bmc.power.calls.isEmpty)
        }
    }

    @Test("concurrent clients are all served")
    func concurrentClients() async throws {
        try await withBMC { bmc in
            let port = bmc.port
            let auth = bmc.auth
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        let path = index.isMultiple(of: 2) ? "/redfish/v1" : "/redfish/v1/Systems/node2"
                        return try await offPool { try LoopbackHTTP.request(port: port, "GET", path, auth: auth).status }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 32))
        }
    }

    @Test("power commands inherit no descriptor beyond stdin, stdout and stderr")
    func noInheritedDescriptors() async throws {
        try await withBMC { bmc in
            // A connection and the listener are open in this process while the command runs.
            let open = try LoopbackHTTP.connect(port: bmc.port)
            defer { close(open) }
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-fd-\(UUID().uuidString)")
                .path
            defer { unlink(state) }
            // ls exits non-zero for the missing path, so its listing of /proc/self/fd comes back in the error.
            let listing = FilePowerControl(
                stateFile: state, powerOffCommand: ["/usr/bin/ls", "-1", "/proc/self/fd", "/khactl-no-such-path"])
            let error = try await #require(throws: LabBMCError.self) { try await listing.powerOff() }
            let descriptors = error.message.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
                .filter { $0 < 1000 }
            // 0-2, and the one ls opened to read /proc/self/fd.
            #expect(Set(descriptors).isSubset(of: [0, 1, 2, 3]), "\(error.message)")
        }
    }
}
