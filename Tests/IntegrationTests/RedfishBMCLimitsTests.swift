import Foundation
import Testing

@testable import KhactlCore

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Lab BMC: slow clients, many clients, and what power commands inherit")
struct RedfishBMCLimitsTests {
    /// Runs `body` with a BMC whose request and idle timeouts are short enough to test.
    func withShortTimeouts(_ body: (RedfishBMC) throws -> Void) throws {
        var limits = HTTPLimits()
        limits.requestSeconds = 1
        limits.idleSeconds = 2
        let bmc = RedfishBMC(
            host: "127.0.0.1", port: 0, credentials: BMCCredentials(username: "a", password: "b"), systemID: "1",
            power: RecordingPowerControl(), limits: limits, log: { _ in })
        try bmc.start()
        defer { bmc.stop() }
        try body(bmc)
    }

    @Test("a client trickling its request head gets 408 once the request time is up")
    func trickledHead() throws {
        try withShortTimeouts { bmc in
            let socketFD = try LoopbackHTTP.connect(port: bmc.port)
            defer { close(socketFD) }
            let started = Date()
            for byte in Array("GET /redfish/v1 HTTP/1.1\r\nX-Slow: ".utf8)
                + Array(repeating: UInt8(ascii: "a"), count: 200)
            {
                try LoopbackHTTP.send(socketFD, [byte])
                usleep(20_000)
                if Date().timeIntervalSince(started) > 1.5 { break }
            }
            var buffer: [UInt8] = []
            let response = try LoopbackHTTP.readResponse(socketFD, buffer: &buffer)
            #expect(response.status == 408)
            #expect(Date().timeIntervalSince(started) < 4)
        }
    }

    @Test("a body that never arrives ends with 408, an idle connection is closed")
    func slowBodyAndIdle() throws {
        try withShortTimeouts { bmc in
            let slow = try LoopbackHTTP.connect(port: bmc.port)
            defer { close(slow) }
            try LoopbackHTTP.send(slow, Array("POST /redfish/v1 HTTP/1.1\r\nContent-Length: 100\r\n\r\n".utf8))
            for _ in 0..<8 {
                try LoopbackHTTP.send(slow, Array("x".utf8))
                usleep(200_000)
            }
            var buffer: [UInt8] = []
            #expect(try LoopbackHTTP.readResponse(slow, buffer: &buffer).status == 408)

            let idle = try LoopbackHTTP.connect(port: bmc.port)
            defer { close(idle) }
            let started = Date()
            #expect(try LoopbackHTTP.readToEnd(idle).isEmpty)
            #expect(Date().timeIntervalSince(started) >= 1.5)
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
                        return try LoopbackHTTP.request(port: port, "GET", path, auth: auth).status
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
            let error = try #require(throws: LabBMCError.self) { try listing.powerOff() }
            let descriptors = error.message.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
                .filter { $0 < 1000 }
            // 0-2, and the one ls opened to read /proc/self/fd.
            #expect(Set(descriptors).isSubset(of: [0, 1, 2, 3]), "\(error.message)")
        }
    }
}
