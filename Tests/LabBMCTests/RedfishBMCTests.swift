import Foundation
import KhactlCore
import KhactlLab
import LabBMC
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A running BMC on an ephemeral loopback port with a recording power control.
struct BMCFixture {
    static let username = "admin"
    static let password = "s3cret-Pa55"
    let bmc: RedfishBMC
    let power: RecordingPowerControl
    let log: LogRecorder
    var port: UInt16 { bmc.port }
    var auth: (String, String) { (Self.username, Self.password) }
}

/// Runs `body` with a started BMC and stops it afterwards, also when `body` throws.
func withBMC<T>(
    initial: PowerState = .on, systemID: String = "node2", _ body: (BMCFixture) async throws -> T
) async throws -> T {
    let power = RecordingPowerControl(initial)
    let log = LogRecorder()
    let bmc = try RedfishBMC(
        host: "127.0.0.1", port: 0,
        credentials: BMCCredentials(username: BMCFixture.username, password: BMCFixture.password),
        systemID: systemID, power: power, log: log.sink)
    try await bmc.start()
    do {
        let result = try await body(BMCFixture(bmc: bmc, power: power, log: log))
        await bmc.stop()
        return result
    } catch {
        await bmc.stop()
        throw error
    }
}

@Suite("Lab BMC: Redfish over a loopback socket")
struct RedfishBMCTests {
    static let resetPath = "/redfish/v1/Systems/node2/Actions/ComputerSystem.Reset"

    @Test("the service root answers without auth and links the Systems collection, as fence_redfish discovers it")
    func serviceRoot() async throws {
        try await withBMC { bmc in
            for path in ["/redfish/v1", "/redfish/v1/"] {
                let response = try await LoopbackHTTP.request(port: bmc.port, "GET", path)
                #expect(response.status == 200)
                #expect(response.headers["content-type"] == "application/json; charset=utf-8")
                #expect(response.headers["odata-version"] == "4.0")
                let systems = try #require(response.json?["Systems"] as? [String: Any])
                #expect(systems["@odata.id"] as? String == "/redfish/v1/Systems")
            }
            let versions = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish")
            #expect(versions.json?["v1"] as? String == "/redfish/v1/")
        }
    }

    @Test("the Systems collection has one member, the system has PowerState and the Reset action target")
    func systemResource() async throws {
        try await withBMC { bmc in
            let collection = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1/Systems", auth: bmc.auth)
            #expect(collection.status == 200)
            let members = try #require(collection.json?["Members"] as? [[String: Any]])
            #expect(members.map { $0["@odata.id"] as? String } == ["/redfish/v1/Systems/node2"])
            #expect(collection.json?["Members@odata.count"] as? Int == 1)

            let system = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1/Systems/node2", auth: bmc.auth)
            #expect(system.status == 200)
            let json = try #require(system.json)
            #expect(json["PowerState"] as? String == "On")
            #expect(json["Id"] as? String == "node2")
            let actions = try #require(json["Actions"] as? [String: Any])
            let reset = try #require(actions["#ComputerSystem.Reset"] as? [String: Any])
            #expect(reset["target"] as? String == Self.resetPath)
            let allowed = try #require(reset["ResetType@Redfish.AllowableValues"] as? [String])
            #expect(Set(["On", "ForceOff", "ForceRestart", "GracefulRestart"]).isSubset(of: Set(allowed)))
            #expect(!allowed.contains("Nmi"))
            #expect(bmc.bmc.systemPath == "/redfish/v1/Systems/node2")
        }
    }

    @Test(
        "a missing, wrong or malformed Authorization gets 401 with a basic challenge and no power call",
        arguments: [
            nil, "Basic \(Data("admin:wrong".utf8).base64EncodedString())",
            "Basic \(Data("root:s3cret-Pa55".utf8).base64EncodedString())",
            "Basic \(Data("admin".utf8).base64EncodedString())", "Basic !!!not-base64", "Bearer s3cret-Pa55",
            "Basic \(Data("admin:s3cret-Pa55 ".utf8).base64EncodedString())",
        ] as [String?])
    func unauthorized(authorization: String?) async throws {
        try await withBMC { bmc in
            let headers = authorization.map { ["Authorization: \($0)"] } ?? []
            for (method, path, body) in [
                ("GET", "/redfish/v1/Systems", nil), ("GET", "/redfish/v1/Systems/node2", nil),
                ("POST", Self.resetPath, #"{"ResetType": "ForceOff"}"#), ("GET", "/redfish/v1/Nowhere", nil),
            ] as [(String, String, String?)] {
                let response = try await LoopbackHTTP.request(port: bmc.port, method, path, body: body, headers: headers)
                #expect(response.status == 401, "\(method) \(path)")
                #expect(response.headers["www-authenticate"]?.hasPrefix("Basic realm=") == true)
                #expect(response.redfishErrorCode == "Base.1.8.NoValidSession")
            }
            #expect(bmc.power.calls.isEmpty)
            #expect(bmc.power.power == .on)
        }
    }

    @Test(
        "each ResetType drives the power control and the next PowerState read shows the result",
        arguments: [
            ("ForceOff", PowerState.on, [RecordingPowerControl.Call.powerOff], PowerState.off),
            ("GracefulShutdown", .on, [.powerOff], .off),
            ("On", .off, [.powerOn], .on),
            ("ForceOn", .off, [.powerOn], .on),
            ("ForceRestart", .on, [.reset], .on),
            ("GracefulRestart", .on, [.reset], .on),
            ("PowerCycle", .off, [.reset], .on),
            ("PushPowerButton", .on, [.powerOff], .off),
            ("PushPowerButton", .off, [.powerOn], .on),
        ])
    func reset(resetType: String, initial: PowerState, calls: [RecordingPowerControl.Call], after: PowerState)
        async throws
    {
        try await withBMC(initial: initial) { bmc in
            let response = try await LoopbackHTTP.request(
                port: bmc.port, "POST", Self.resetPath, auth: bmc.auth, body: #"{"ResetType": "\#(resetType)"}"#)
            #expect(response.status == 204)
            #expect(response.body.isEmpty)
            #expect(bmc.power.calls == calls)
            let system = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1/Systems/node2", auth: bmc.auth)
            #expect(system.json?["PowerState"] as? String == after.rawValue)
            #expect(bmc.log.lines.contains("reset requested: ResetType=\(resetType)"))
        }
    }

    @Test(
        "a reset body without a valid ResetType gets 400 and a Redfish error, with no power call",
        arguments: [
            ("", "Base.1.8.MalformedJSON"), ("not json", "Base.1.8.MalformedJSON"), ("[]", "Base.1.8.MalformedJSON"),
            (#"{"ResetType": "ForceOff""#, "Base.1.8.MalformedJSON"), ("{}", "Base.1.8.ActionParameterMissing"),
            (#"{"resettype": "ForceOff"}"#, "Base.1.8.ActionParameterMissing"),
            (#"{"ResetType": 5}"#, "Base.1.8.ActionParameterValueNotInList"),
            (#"{"ResetType": "Nmi"}"#, "Base.1.8.ActionParameterValueNotInList"),
            (#"{"ResetType": "Sideways"}"#, "Base.1.8.ActionParameterValueNotInList"),
        ])
    func badResetBody(body: String, code: String) async throws {
        try await withBMC { bmc in
            let response = try await LoopbackHTTP.request(port: bmc.port, "POST", Self.resetPath, auth: bmc.auth, body: body)
            #expect(response.status == 400)
            #expect(response.redfishErrorCode == code)
            #expect(bmc.power.calls.isEmpty)
        }
    }

    @Test("unknown resources get 404, wrong methods 405 with Allow")
    func notFoundAndMethods() async throws {
        try await withBMC { bmc in
            for path in [
                "/redfish/v1/Systems/node3", "/redfish/v1/Managers", "/", "/redfish/v2", "/redfish/v1/Systems/node2/x",
            ] {
                let response = try await LoopbackHTTP.request(port: bmc.port, "GET", path, auth: bmc.auth)
                #expect(response.status == 404, "\(path)")
                #expect(response.redfishErrorCode == "Base.1.8.ResourceMissingAtURI")
            }
            let getReset = try await LoopbackHTTP.request(port: bmc.port, "GET", Self.resetPath, auth: bmc.auth)
            #expect(getReset.status == 405)
            #expect(getReset.headers["allow"] == "POST")
            let patch = try await LoopbackHTTP.request(
                port: bmc.port, "PATCH", "/redfish/v1/Systems/node2", auth: bmc.auth, body: #"{"PowerState":"Off"}"#)
            #expect(patch.status == 405)
            #expect(patch.headers["allow"] == "GET")
            let deleteRoot = try await LoopbackHTTP.request(port: bmc.port, "DELETE", "/redfish/v1")
            #expect(deleteRoot.status == 405)
            #expect(bmc.power.calls.isEmpty)
        }
    }

    @Test(
        "requests the HTTP parser refuses get 400 and a closed connection, and the BMC keeps serving",
        arguments: [
            "GARBAGE\r\n\r\n",
            "GET /redfish/v1 HTTP/1.1\nHost: x\n\n",
            "GET /redfish/v1 HTTP/1.1\rHost: x\r\n\r\n",
            "GET redfish/v1 HTTP/1.1\r\n\r\n",
            "GET /redfish/v1 HTTP/2.0\r\n\r\n",
            "GET /redfish/v1 HTTX/1.1\r\n\r\n",
            "G(T /redfish/v1 HTTP/1.1\r\n\r\n",
            "GET /redfish/v1 HTTP/1.1\r\nBad Header\r\n\r\n",
            "GET /redfish/v1 HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "GET /redfish/v1 HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            "GET /redfish/v1 HTTP/1.1\r\n: empty name\r\n\r\n",
            "GET /redfish/v1 HTTP/1.1\r\nX: a\u{01}b\r\n\r\n",
            "GET /redfish/v1 HTTP/1.1\r\nX: a\u{00}b\r\n\r\n",
            "POST /redfish/v1 HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
            "POST /redfish/v1 HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST /redfish/v1 HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "POST /redfish/v1 HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}\r\n\r\n",
        ])
    func malformed(raw: String) async throws {
        let status = 400
        try await withBMC { bmc in
            let port = bmc.port
            let responses = try await LoopbackHTTP.exchange(port: port, Array(raw.utf8))
            #expect(responses.count == 1)
            #expect(responses.first?.status == status)
            #expect(responses.first?.headers["connection"] == "close")
            let root = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1")
            #expect(root.status == 200)
            #expect(bmc.power.calls.isEmpty)
        }
    }

    @Test(
        "odd requests the parser takes reach Redfish and get its answer, never a power call",
        arguments: [
            ("GET http://127.0.0.1/redfish/v1 HTTP/1.1\r\nConnection: close\r\n\r\n", 200),
            ("GET /%zz HTTP/1.1\r\nConnection: close\r\n\r\n", 401),
            ("GET /redfish%00/v1 HTTP/1.1\r\nConnection: close\r\n\r\n", 401),
            ("POST /redfish/v1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 405),
            ("GET /redfish/v1 HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000) + "\r\nConnection: close\r\n\r\n", 200),
        ])
    func oddButParsed(raw: String, status: Int) async throws {
        try await withBMC { bmc in
            let responses = try await LoopbackHTTP.exchange(port: bmc.port, Array(raw.utf8))
            #expect(responses.map(\.status) == [status])
            #expect(bmc.power.calls.isEmpty)
        }
    }

    @Test("random bytes, truncated requests and a TLS handshake sent in plain never crash the BMC")
    func fuzz() async throws {
        try await withBMC { bmc in
            var generator = SystemRandomNumberGenerator()
            for round in 0..<200 {
                let socketFD = try LoopbackHTTP.connect(port: bmc.port)
                var bytes = (0..<Int.random(in: 1...3000, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                if round % 3 == 0 {
                    bytes = Array("POST \(Self.resetPath) HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"Res".utf8)
                }
                if round % 3 == 1 { bytes += Array("\r\n\r\n".utf8) }
                try LoopbackHTTP.send(socketFD, bytes)
                // Close without reading: the BMC must cope with peers that vanish mid-request or mid-response.
                close(socketFD)
            }
            let root = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1")
            #expect(root.status == 200)
            #expect(bmc.power.calls.isEmpty)
        }
    }

    @Test("keep-alive: pipelined requests on one connection get answers in order")
    func keepAlive() async throws {
        try await withBMC { bmc in
            let token = Data("admin:\(BMCFixture.password)".utf8).base64EncodedString()
            let body = #"{"ResetType":"ForceOff"}"#
            let raw =
                "GET /redfish/v1 HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST \(Self.resetPath) HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(token)\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
                + "GET /redfish/v1/Systems/node2 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(token)\r\n"
                + "Connection: close\r\n\r\n"
            let responses = try await LoopbackHTTP.exchange(port: bmc.port, Array(raw.utf8))
            #expect(responses.map(\.status) == [200, 204, 200])
            // HTTP/1.1 keeps connections open without saying so; the exchange ending proves the close asked for.
            #expect(responses.map { $0.headers["connection"] } == [nil, nil, nil])
            #expect(responses.last?.json?["PowerState"] as? String == "Off")

        }
    }

    @Test("a failing power control gives 500 with its message")
    func powerFailure() async throws {
        try await withBMC { bmc in
            bmc.power.fail(with: "node2 is unreachable")
            let system = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1/Systems/node2", auth: bmc.auth)
            #expect(system.status == 500)
            let reset = try await LoopbackHTTP.request(
                port: bmc.port, "POST", Self.resetPath, auth: bmc.auth, body: #"{"ResetType":"ForceOff"}"#)
            #expect(reset.status == 500)
            let message = (reset.json?["error"] as? [String: Any])?["message"] as? String
            #expect(message?.contains("node2 is unreachable") == true)
            #expect(message?.contains("ForceOff") == true)
        }
    }

    @Test("the password never reaches the log, descriptions or dumps")
    func passwordNeverLogged() async throws {
        try await withBMC { bmc in
            _ = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1/Systems/node2", auth: bmc.auth)
            _ = try await LoopbackHTTP.request(port: bmc.port, "GET", "/redfish/v1/Systems/node2", auth: ("admin", "guess"))
            _ = try await LoopbackHTTP.request(
                port: bmc.port, "POST", Self.resetPath, auth: bmc.auth, body: #"{"ResetType":"ForceOff"}"#)
            _ = try await LoopbackHTTP.exchange(
                port: bmc.port,
                Array("GET /redfish/v1 HTTP/1.1\r\nAuthorization: Basic \(BMCFixture.password)\r\nBad\r\n\r\n".utf8))
            let lines = bmc.log.lines
            #expect(lines.count >= 4)
            let encoded = Data("admin:\(BMCFixture.password)".utf8).base64EncodedString()
            for line in lines {
                #expect(!line.contains(BMCFixture.password), "\(line)")
                #expect(!line.contains(encoded), "\(line)")
                #expect(!line.contains("guess"), "\(line)")
            }
        }
        let credentials = BMCCredentials(username: "admin", password: "hunter2")
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in [String(describing: credentials), String(reflecting: credentials), dumped, "\(credentials)"] {
            #expect(!text.contains("hunter2"), "\(text)")
            #expect(text.contains("admin"))
        }
    }

    @Test("stop() closes idle keep-alive connections and the port, and is idempotent")
    func stop() async throws {
        let power = RecordingPowerControl()
        let bmc = try RedfishBMC(
            host: "127.0.0.1", port: 0, credentials: BMCCredentials(username: "a", password: "b"), power: power)
        #expect(bmc.port == 0)
        try await bmc.start()
        let port = bmc.port
        #expect(port != 0)
        let idle = try LoopbackHTTP.connect(port: port)
        defer { close(idle) }
        try LoopbackHTTP.send(idle, Array("GET /redfish/v1 HTTP/1.1\r\n\r\n".utf8))
        var buffer: [UInt8] = []
        #expect(try LoopbackHTTP.readResponse(idle, buffer: &buffer).status == 200)
        await bmc.stop()
        #expect(try LoopbackHTTP.readToEnd(idle).isEmpty)
        #expect(!LoopbackHTTP.isAccepting(port: port))
        await bmc.stop()
    }

    @Test("listening on a port in use fails with a message naming the address")
    func portInUse() async throws {
        try await withBMC { bmc in
            let second = try RedfishBMC(
                host: "127.0.0.1", port: bmc.port, credentials: BMCCredentials(username: "a", password: "b"),
                power: RecordingPowerControl())
            let error = try await #require(throws: LabBMCError.self) { try await second.start() }
            #expect(error.code == .listen)
            #expect(error.message.hasPrefix("cannot listen on 127.0.0.1:\(bmc.port): "))
            await second.stop()
        }
    }

    @Test("IPv6 loopback works too")
    func ipv6() async throws {
        let bmc = try RedfishBMC(
            host: "::1", port: 0, credentials: BMCCredentials(username: "a", password: "b"),
            power: RecordingPowerControl())
        do {
            try await bmc.start()
        } catch let error as LabBMCError {
            // A host without IPv6 on lo cannot run this case; that is the host, not the BMC.
            Issue.record("cannot listen on [::1]: \(error)")
            return
        }
        #expect(bmc.port != 0)
        let root = try await offPool { [port = bmc.port] in
            try runTool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://[::1]:\(port)/redfish/v1"])
        }
        await bmc.stop()
        #expect(root.stdout == "200")
    }
}
