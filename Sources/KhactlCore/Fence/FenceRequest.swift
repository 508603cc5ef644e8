import Foundation

/// What Pacemaker (or an operator) asks of `fence_khactl`: the fence-agent calling convention shared with
/// fence-agents' `fence_redfish`, so a device can switch agents by changing only its type.
///
/// Pacemaker runs the agent without arguments and writes `name=value` lines to its standard input (the device's
/// parameters, `action=`, and the target as `nodename=`/`plug=`). By hand it takes fence-agents' long options
/// (`--action=off`, `--ip 198.18.0.11`, ...) and their usual short ones. The password is accepted on standard
/// input or through `password_script` only: on the command line every user could read it in `ps`.
package struct FenceRequest: Sendable, Equatable {
    /// The actions the agent implements.
    package enum Action: String, Sendable, CaseIterable {
        case on, off, reboot, status, monitor, metadata
        case validateAll = "validate-all"

        /// Whether the action talks to the BMC.
        var needsDevice: Bool { self != .metadata && self != .validateAll }
    }

    package var action: Action = .reboot
    /// The BMC's address (`ip`, formerly `ipaddr`).
    package var host: String?
    /// Its HTTPS port (`ipport`).
    package var port = 443
    package var username: String?
    package var password: String?
    /// A shell line that prints the password (`password_script`); `cat FILE` is read directly.
    package var passwordScript: String?
    /// `ssl_insecure`: accept the BMC's certificate without verifying it (lab BMCs, self-signed certificates).
    package var verifyCertificate = true
    /// Where the Redfish service root is (`redfish_uri`).
    package var redfishURI = "/redfish/v1"
    /// The system to act on (`systems_uri`); found from the service root when absent (the first member).
    package var systemsURI: String?
    /// How long to wait for the power state asked (`power_timeout`).
    package var powerTimeout: Duration = .seconds(20)
    /// A pause after a power request before its state is checked (`power_wait`).
    package var powerWait: Duration = .zero
    /// The limit for connecting and for each request (`login_timeout`).
    package var loginTimeout: Duration = .seconds(5)
    /// The pause between two power-state checks while waiting (`stonith_status_sleep`). fence-agents wait 1 s;
    /// a Redfish BMC answers a state check in milliseconds, so 0.1 s by default.
    package var statusSleep: Duration = .milliseconds(100)
    /// A pause before off and reboot (`delay`).
    package var delay: Duration = .zero
    /// `verbose`: each Redfish request on standard error.
    package var verbose = false
    /// Options accepted and ignored, or not known: said on standard error, as fence-agents do.
    package var warnings: [String] = []

    package init() {}

    /// Parameters fence_redfish takes that mean nothing here (one system per BMC, HTTPS always, no shell).
    static let ignored: Set<String> = [
        "plug", "port", "nodename", "port_as_ip", "plug_separator", "quiet", "verbose_level", "debug", "debug_file",
        "disable_timeout", "gnutlscli_path", "shell_timeout", "retry_on", "ssl", "ssl_secure", "notls",
    ]

    /// Long option names of the command line, as fence-agents spell them, to parameter names.
    static let longOptions: [String: String] = [
        "action": "action", "ip": "ip", "ipport": "ipport", "username": "username", "password-script": "password_script",
        "ssl-insecure": "ssl_insecure", "ssl": "ssl", "ssl-secure": "ssl_secure", "redfish-uri": "redfish_uri",
        "systems-uri": "systems_uri", "power-timeout": "power_timeout", "power-wait": "power_wait",
        "login-timeout": "login_timeout", "stonith-status-sleep": "stonith_status_sleep", "delay": "delay",
        "verbose": "verbose", "plug": "plug", "nodename": "nodename",
    ]
    static let shortOptions: [String: String] = [
        "o": "action", "a": "ip", "u": "ipport", "l": "username", "S": "password_script", "n": "plug", "v": "verbose",
    ]
    /// Options that take no value on the command line.
    static let flags: Set<String> = ["ssl_insecure", "ssl", "ssl_secure", "verbose"]

    /// The request of `name=value` lines (Pacemaker's way).
    package static func parse(standardInput text: String) throws(FenceAgentError) -> FenceRequest {
        var pairs: [(String, String)] = []
        var request = FenceRequest()
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                // fence-agents take a bare name as a set flag.
                pairs.append((line, ""))
                continue
            }
            pairs.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
        }
        try request.apply(pairs)
        return request
    }

    /// The request of a command line (without the program's name).
    package static func parse(arguments: [String]) throws(FenceAgentError) -> FenceRequest {
        var pairs: [(String, String)] = []
        var index = 0
        func value(for option: String, _ name: String) throws(FenceAgentError) -> String {
            index += 1
            guard index < arguments.count else { throw FenceAgentError(.badArguments, "\(option) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            if ["-p", "--password"].contains(argument) || argument.hasPrefix("--password=") {
                throw FenceAgentError(
                    .badArguments,
                    "a password on the command line is visible to every user (ps); give it on standard input (password=...) or with --password-script")
            }
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                let (option, inline) = body.firstIndex(of: "=").map { (String(body[..<$0]), String(body[body.index(after: $0)...])) }
                    ?? (String(body), nil)
                guard let name = longOptions[option] else { throw FenceAgentError(.badArguments, "unknown option \(argument)") }
                if flags.contains(name) {
                    pairs.append((name, inline ?? "1"))
                } else {
                    let given: String
                    if let inline { given = inline } else { given = try value(for: argument, name) }
                    pairs.append((name, given))
                }
            } else if argument.hasPrefix("-"), argument.count == 2, let name = shortOptions[String(argument.dropFirst())] {
                pairs.append((name, flags.contains(name) ? "1" : try value(for: argument, name)))
            } else {
                throw FenceAgentError(.badArguments, "unknown option \(argument)")
            }
            index += 1
        }
        var request = FenceRequest()
        try request.apply(pairs)
        return request
    }

    private mutating func apply(_ pairs: [(String, String)]) throws(FenceAgentError) {
        for (name, value) in pairs {
            switch name {
            case "action", "option":
                guard let action = Action(rawValue: value) else {
                    throw FenceAgentError(
                        .badArguments, "action '\(value)' is not one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                self.action = action
            case "ip", "ipaddr": host = try Self.nonEmpty(name, value)
            case "ipport":
                guard let number = Int(value), (1...65535).contains(number) else {
                    throw FenceAgentError(.badArguments, "ipport '\(value)' is not a TCP port (1-65535)")
                }
                port = number
            case "username", "login": username = value
            case "password", "passwd": password = value
            case "password_script", "passwd_script": passwordScript = try Self.nonEmpty(name, value)
            case "ssl_insecure": verifyCertificate = !(try Self.boolean(name, value))
            case "redfish_uri", "redfish-uri": redfishURI = try Self.path(name, value)
            case "systems_uri", "systems-uri": systemsURI = try Self.path(name, value)
            case "power_timeout": powerTimeout = try Self.seconds(name, value)
            case "power_wait": powerWait = try Self.seconds(name, value)
            case "login_timeout": loginTimeout = try Self.seconds(name, value)
            case "stonith_status_sleep": statusSleep = try Self.seconds(name, value)
            case "delay": delay = try Self.seconds(name, value)
            case "verbose": verbose = try Self.boolean(name, value)
            default:
                if Self.ignored.contains(name) { continue }
                warnings.append("ignoring unknown parameter '\(name)'")
            }
        }
    }

    /// What a device action needs before anything is sent.
    package func validate() throws(FenceAgentError) {
        guard action.needsDevice || action == .validateAll else { return }
        guard let host, !host.isEmpty else { throw FenceAgentError(.badArguments, "ip (the BMC's address) is required") }
        guard !host.contains("/"), !host.contains("@"), !host.contains(where: \.isWhitespace) else {
            throw FenceAgentError(.badArguments, "ip '\(host)' is not a host name or address")
        }
        guard let username, !username.isEmpty else { throw FenceAgentError(.badArguments, "username is required") }
        guard password != nil || passwordScript != nil else {
            throw FenceAgentError(.badArguments, "password (on standard input) or password_script is required")
        }
    }

    static func nonEmpty(_ name: String, _ value: String) throws(FenceAgentError) -> String {
        guard !value.isEmpty else { throw FenceAgentError(.badArguments, "\(name) is empty") }
        return value
    }

    static func path(_ name: String, _ value: String) throws(FenceAgentError) -> String {
        guard value.hasPrefix("/"), !value.contains(where: { $0.isWhitespace || $0 == "?" || $0 == "#" }) else {
            throw FenceAgentError(.badArguments, "\(name) '\(value)' is not an absolute URI path (e.g. /redfish/v1/Systems/1)")
        }
        return value
    }

    static func boolean(_ name: String, _ value: String) throws(FenceAgentError) -> Bool {
        switch value.lowercased() {
        case "", "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw FenceAgentError(.badArguments, "\(name) '\(value)' is not a boolean (1 or 0)")
        }
    }

    static func seconds(_ name: String, _ value: String) throws(FenceAgentError) -> Duration {
        guard let number = Double(value), number.isFinite, number >= 0, number <= 86400,
            value.allSatisfy({ $0.isNumber || $0 == "." })
        else {
            throw FenceAgentError(.badArguments, "\(name) '\(value)' is not a number of seconds")
        }
        return .milliseconds(Int64((number * 1000).rounded()))
    }
}

/// Why the agent failed, and its exit status.
package struct FenceAgentError: Error, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// Bad parameters: nothing was sent.
        case badArguments
        /// The BMC could not be reached or refused the credentials.
        case connection
        /// The BMC answered with an error, or the power state never came.
        case device
        /// The power state did not change within `power_timeout`.
        case timedOut
    }

    package let kind: Kind
    package let message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}
