import AsyncHTTPClient
import ClusterExec
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// `fence_khactl`: a Redfish fence agent compiled into khactl, parameter-compatible with fence-agents'
/// `fence_redfish` (`ip`, `ipport`, `username`, `password`/`password_script`, `ssl_insecure`, `systems_uri`,
/// `power_timeout`, ...).
///
/// Why: `fence_redfish` spends about 0.18 s of its 0.22-0.27 s in starting Python and importing its libraries
/// (Docs/benchmarks.md); fencing is on the failover's critical path. This agent is the khactl binary run under
/// the name `fence_khactl` (`khactl fence-agent install` makes the link in /usr/sbin, where Pacemaker looks for
/// fence agents): one TLS connection, kept for the requests of an action (the system, the reset, the state).
///
/// Exit status as fence-agents: 0 done (status: on), 2 status off, 1 failed.
package enum RedfishFenceAgent {
    /// The name Pacemaker runs it by.
    package static let name = "fence_khactl"

    /// Runs one agent call: arguments (without the program's name), or `name=value` lines on standard input when
    /// there are none. Prints what fence-agents print; returns the exit status.
    package static func main(arguments: [String], readInput: @Sendable () -> String) async -> Int32 {
        if arguments == ["-h"] || arguments == ["--help"] {
            print(usage)
            return 0
        }
        if arguments == ["-V"] || arguments == ["--version"] {
            print(Product.version)
            return 0
        }
        let request: FenceRequest
        do throws(FenceAgentError) {
            request = arguments.isEmpty ? try FenceRequest.parse(standardInput: readInput()) : try FenceRequest.parse(arguments: arguments)
            for warning in request.warnings { printError("\(name): \(warning)") }
            try request.validate()
        } catch {
            printError("\(name): Failed: \(error.message)")
            return 1
        }
        do throws(FenceAgentError) {
            return try await run(request)
        } catch {
            printError("\(name): Failed: \(error.message)")
            return 1
        }
    }

    /// Performs `request` (already validated).
    package static func run(_ request: FenceRequest) async throws(FenceAgentError) -> Int32 {
        switch request.action {
        case .metadata:
            print(metadata, terminator: "")
            return 0
        case .validateAll:
            return 0
        default:
            break
        }
        let password = try await password(of: request)
        let session = try RedfishSession(request: request, password: password)
        do throws(FenceAgentError) {
            let result = try await act(request, session)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }

    private static func act(_ request: FenceRequest, _ session: RedfishSession) async throws(FenceAgentError) -> Int32 {
        let system = try await session.systemPath(request)
        switch request.action {
        case .monitor:
            _ = try await session.powerState(system)
            return 0
        case .status:
            let on = try await session.powerState(system) != "Off"
            print("Status: \(on ? "ON" : "OFF")")
            return on ? 0 : 2
        case .off:
            if request.delay > .zero { try? await Task.sleep(for: request.delay) }
            print(try await power(session, system, request, to: "Off") ? "Success: Powered OFF" : "Success: Already OFF")
            return 0
        case .on:
            print(try await power(session, system, request, to: "On") ? "Success: Powered ON" : "Success: Already ON")
            return 0
        case .reboot:
            if request.delay > .zero { try? await Task.sleep(for: request.delay) }
            try await power(session, system, request, to: "Off")
            // The node is fenced once it is off; a BMC that then fails to power it on does not undo that.
            do throws(FenceAgentError) {
                _ = try await power(session, system, request, to: "On")
            } catch {
                printError("\(name): the node is off, but powering it on again failed: \(error.message)")
            }
            print("Success: Rebooted")
            return 0
        case .metadata, .validateAll:
            return 0
        }
    }

    /// Asks for `state` ("On" or "Off") unless the system is there already, and waits for it. Returns whether it
    /// asked.
    private static func power(
        _ session: RedfishSession, _ system: String, _ request: FenceRequest, to state: String
    ) async throws(FenceAgentError) -> Bool {
        if try await session.powerState(system) == state { return false }
        try await session.reset(system, type: state == "Off" ? "ForceOff" : "On")
        if request.powerWait > .zero { try? await Task.sleep(for: request.powerWait) }
        let deadline = ContinuousClock.now + request.powerTimeout
        while true {
            if try await session.powerState(system) == state { return true }
            guard ContinuousClock.now < deadline else {
                throw FenceAgentError(.timedOut, "timed out waiting to power \(state.uppercased())")
            }
            try? await Task.sleep(for: request.statusSleep)
        }
    }

    /// The password: given, or printed by `password_script` (its first line). `cat FILE`, the form khactl writes
    /// for a spec's `password-file`, is read directly instead of through a shell and cat.
    private static func password(of request: FenceRequest) async throws(FenceAgentError) -> String {
        if let password = request.password { return password }
        guard let script = request.passwordScript else { throw FenceAgentError(.badArguments, "no password") }
        let words = script.split(separator: " ", omittingEmptySubsequences: true)
        let output: String
        if words.count == 2, words[0] == "cat", words[1].hasPrefix("/"),
            !words[1].contains(where: { "'\"$`\\;|&<>*?()".contains($0) })
        {
            guard let data = FileManager.default.contents(atPath: String(words[1])) else {
                throw FenceAgentError(.badArguments, "password_script: cannot read \(words[1])")
            }
            output = String(decoding: data, as: UTF8.self)
        } else {
            do {
                let result = try await SubprocessRunner().run(Command("/bin/sh", ["-c", script], timeout: .seconds(10)))
                guard result.status == 0 else {
                    throw FenceAgentError(.badArguments, "password_script exited with status \(result.status)")
                }
                output = result.standardOutput
            } catch let error as FenceAgentError {
                throw error
            } catch {
                throw FenceAgentError(.badArguments, "password_script could not run: \(error)")
            }
        }
        let line = output.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !password.isEmpty else { throw FenceAgentError(.badArguments, "password_script printed no password") }
        return password
    }

    static let usage = """
        Usage: \(name) [options]   (or name=value lines on standard input, as Pacemaker runs it)
        khactl's Redfish fence agent, parameter-compatible with fence_redfish.
          -o, --action=ACTION        on, off, reboot (default), status, monitor, metadata, validate-all
          -a, --ip=ADDRESS           the BMC
          -u, --ipport=PORT          its HTTPS port (443)
          -l, --username=NAME        the BMC user
          -S, --password-script=SH   a shell line printing the password (or password=... on standard input)
              --ssl-insecure         do not verify the BMC's certificate
              --systems-uri=PATH     the system (default: the first of the service root's Systems)
              --redfish-uri=PATH     the service root (/redfish/v1)
              --power-timeout=S      wait this long for the power state (20)
              --power-wait=S         pause after a power request (0)
              --login-timeout=S      connect and request limit (5)
              --stonith-status-sleep=S  between two state checks (0.1)
              --delay=S              pause before off and reboot (0)
          -v, --verbose              each request on standard error
        """

    /// The agent's metadata, in the fence-agents format Pacemaker and pcs read.
    package static var metadata: String {
        typealias Parameter = (name: String, getopt: String, type: String, defaultValue: String?, required: Bool, text: String)
        let parameters: [Parameter] = [
            ("action", "-o, --action=[action]", "string", "reboot", true, "Fencing action"),
            ("ip", "-a, --ip=[ip]", "string", nil, true, "IP address or hostname of the BMC"),
            ("ipport", "-u, --ipport=[port]", "integer", "443", false, "TCP port of the BMC's HTTPS service"),
            ("username", "-l, --username=[name]", "string", nil, true, "Login name"),
            ("password", "-p, --password=[password]", "string", nil, false, "Login password (standard input only)"),
            ("password_script", "-S, --password-script=[script]", "string", nil, false, "Script to run to retrieve the password"),
            ("ssl_insecure", "--ssl-insecure", "boolean", nil, false, "Use TLS without verifying the BMC's certificate"),
            ("redfish_uri", "--redfish-uri=[uri]", "string", "/redfish/v1", false, "Base or starting Redfish URI"),
            ("systems_uri", "--systems-uri=[uri]", "string", nil, false, "Redfish Systems resource URI, i.e. /redfish/v1/Systems/1"),
            ("plug", "-n, --plug=[id]", "string", nil, false, "Ignored (one system per BMC)"),
            ("verbose", "-v, --verbose", "boolean", nil, false, "Verbose mode"),
            ("delay", "--delay=[seconds]", "second", "0", false, "Wait X seconds before fencing is started"),
            ("login_timeout", "--login-timeout=[seconds]", "second", "5", false, "Wait X seconds for a connection and for each request"),
            ("power_timeout", "--power-timeout=[seconds]", "second", "20", false, "Test X seconds for status change after ON/OFF"),
            ("power_wait", "--power-wait=[seconds]", "second", "0", false, "Wait X seconds after issuing ON/OFF"),
            ("stonith_status_sleep", "--stonith-status-sleep=[seconds]", "second", "0.1", false, "Sleep X seconds between status calls while waiting"),
        ]
        var lines = [
            "<?xml version=\"1.0\" ?>",
            "<resource-agent name=\"\(name)\" shortdesc=\"Fence agent for Redfish BMCs (khactl, compiled)\" >",
            "<longdesc>\(name) powers a node off and on through its BMC's Redfish API (ComputerSystem.Reset), like fence_redfish, without starting an interpreter. It is the khactl binary run under this name.</longdesc>",
            "<vendor-url>https://www.dmtf.org/standards/redfish</vendor-url>",
            "<parameters>",
        ]
        for parameter in parameters {
            lines.append("\t<parameter name=\"\(parameter.name)\" unique=\"0\" required=\"\(parameter.required ? 1 : 0)\">")
            lines.append("\t\t<getopt mixed=\"\(parameter.getopt)\" />")
            let defaultValue = parameter.defaultValue.map { " default=\"\($0)\"" } ?? ""
            lines.append("\t\t<content type=\"\(parameter.type)\"\(defaultValue) />")
            lines.append("\t\t<shortdesc lang=\"en\">\(parameter.text)</shortdesc>")
            lines.append("\t</parameter>")
        }
        lines += ["</parameters>", "<actions>", "\t<action name=\"on\" automatic=\"0\"/>"]
        for action in ["off", "reboot", "status", "monitor", "metadata", "validate-all"] {
            lines.append("\t<action name=\"\(action)\" />")
        }
        lines += ["</actions>", "</resource-agent>"]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The Redfish requests of one agent call, over one kept HTTPS connection (AsyncHTTPClient).
final class RedfishSession: Sendable {
    private let client: HTTPClient
    private let base: String
    private let authorization: String
    private let timeout: Duration
    private let verbose: Bool

    init(request: FenceRequest, password: String) throws(FenceAgentError) {
        guard let host = request.host, let username = request.username else { throw FenceAgentError(.badArguments, "ip and username are required") }
        var tls = TLSConfiguration.makeClientConfiguration()
        if !request.verifyCertificate { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(request.loginTimeout.nanoseconds), read: .nanoseconds(request.loginTimeout.nanoseconds)),
            proxy: nil)
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        base = "https://\(host.contains(":") ? "[\(host)]" : host):\(request.port)"
        authorization = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        timeout = request.loginTimeout
        verbose = request.verbose
    }

    func close() async {
        try? await client.shutdown()
    }

    /// The system's URI: `systems_uri`, or the first member of the service root's Systems collection.
    func systemPath(_ request: FenceRequest) async throws(FenceAgentError) -> String {
        if let systems = request.systemsURI { return systems }
        let root = try await get(request.redfishURI)
        guard let collection = (root["Systems"] as? [String: Any])?["@odata.id"] as? String else {
            throw FenceAgentError(.device, "\(request.redfishURI) names no Systems collection")
        }
        let members = try await get(collection)["Members"] as? [[String: Any]] ?? []
        guard let first = members.first?["@odata.id"] as? String else {
            throw FenceAgentError(.device, "\(collection) has no system; give systems_uri")
        }
        return first
    }

    /// The system's `PowerState` ("On", "Off", "PoweringOn", "PoweringOff").
    func powerState(_ system: String) async throws(FenceAgentError) -> String {
        guard let state = try await get(system)["PowerState"] as? String else {
            throw FenceAgentError(.device, "\(system) has no PowerState")
        }
        return state
    }

    /// Posts a `ComputerSystem.Reset` of `type`.
    func reset(_ system: String, type: String) async throws(FenceAgentError) {
        let path = system.hasSuffix("/") ? String(system.dropLast()) : system
        _ = try await send(.POST, "\(path)/Actions/ComputerSystem.Reset", body: "{\"ResetType\": \"\(type)\"}")
    }

    private func get(_ path: String) async throws(FenceAgentError) -> [String: Any] {
        let body = try await send(.GET, path, body: nil)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw FenceAgentError(.device, "GET \(path): the answer is not a JSON object")
        }
        return object
    }

    private func send(_ method: HTTPMethod, _ path: String, body: String?) async throws(FenceAgentError) -> [UInt8] {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "\(RedfishFenceAgent.name)/\(Product.version)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let started = ContinuousClock.now
        let status: Int
        let bytes: [UInt8]
        do {
            let response = try await client.execute(request, deadline: .now() + .nanoseconds(timeout.nanoseconds))
            status = Int(response.status.code)
            bytes = Array(buffer: try await response.body.collect(upTo: 1024 * 1024))
        } catch {
            throw FenceAgentError(.connection, "\(method.rawValue) \(base)\(path): \(Self.describe(error))")
        }
        if verbose { printError("\(RedfishFenceAgent.name): \(method.rawValue) \(path) -> \(status) in \(started.duration(to: .now))") }
        guard (200..<300).contains(status) else {
            if status == 401 || status == 403 {
                throw FenceAgentError(.connection, "\(method.rawValue) \(path): the BMC refused the credentials (HTTP \(status))")
            }
            let message = ((try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any])
                .flatMap { ($0["error"] as? [String: Any])?["message"] as? String }
            throw FenceAgentError(.device, "\(method.rawValue) \(path): HTTP \(status)\(message.map { ": \($0)" } ?? "")")
        }
        return bytes
    }

    private static func describe(_ error: any Error) -> String {
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "no answer within login_timeout"
            default: break
            }
        }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("ECONNREFUSED") || text.contains("Connection refused") {
            return "connection refused"
        }
        if error is NIOSSLError || text.contains("handshakeFailed") || text.contains("certificate") {
            return "TLS failed (\(text)); ssl_insecure=1 accepts a self-signed certificate"
        }
        return text
    }
}
