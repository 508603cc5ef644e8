import Pacemaker
import ArgumentParser
import Foundation
import KhactlCore
import LabBMC
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// A `HOST:PORT` to listen on; IPv6 hosts in brackets (`[::1]:8000`).
package struct BMCListenAddress: Sendable, Hashable, ExpressibleByArgument, CustomStringConvertible {
    /// The numeric address (without brackets).
    package let host: String
    /// The TCP port (`0` picks a free one).
    package let port: UInt16

    /// An address from its parts.
    package init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`; `nil` for anything else.
    package init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = UInt16(argument[argument.index(after: colon)...])
        else {
            return nil
        }
        var host = String(argument[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    /// `HOST:PORT`, with brackets around an IPv6 host.
    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `khactl lab bmc`: runs an emulated Redfish BMC for one lab node until SIGTERM or SIGINT.
///
/// Hidden, and registered by `khactl lab` rather than here. The power state lives in `--state-file`;
/// Redfish power actions run `--power-off-command` / `--power-on-command`. Each occurrence of those options
/// adds one argument (so arguments that start with `-` need no quoting):
/// `--power-off-command khactl --power-off-command lab --power-off-command kill --power-off-command node2
/// --power-off-command --mode --power-off-command crash`. With `--tls-pem` it serves HTTPS (all that
/// `fence_redfish` speaks); without, plain HTTP.
package struct LabBMCCommand: AsyncParsableCommand {
    /// The command's name, help and visibility.
    package static let configuration = CommandConfiguration(
        commandName: "bmc",
        abstract: "Run an emulated Redfish BMC whose power actions run commands.",
        shouldDisplay: false
    )

    /// Where to listen.
    @Option(help: ArgumentHelp("Address and port to serve Redfish on.", valueName: "host:port"))
    package var listen: BMCListenAddress

    /// The certificate and key to serve HTTPS with.
    @Option(help: ArgumentHelp("A PEM file with the certificate and its key: serve HTTPS (else plain HTTP).", valueName: "path"))
    package var tlsPEM: String?

    /// The login name clients must send.
    @Option(help: "The username Redfish clients must send (HTTP basic auth).")
    package var username: String

    /// The file holding the password.
    @Option(help: ArgumentHelp("A file holding the password (one line).", valueName: "path"))
    package var passwordFile: String

    /// The file holding the power state.
    @Option(help: ArgumentHelp("A file holding the power state, On or Off (missing means On).", valueName: "path"))
    package var stateFile: String = ""

    /// The Redfish system ID.
    @Option(help: "The Redfish system Id (letters, digits, '.', '_', '-').")
    package var systemID: String = "1"

    /// The power-off command, one argument per occurrence.
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp("One argument of the command that cuts power; repeat for each argument.", valueName: "arg"))
    package var powerOffCommand: [String] = []

    /// The power-on command, one argument per occurrence.
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "One argument of the command that restores power; repeat for each argument.", valueName: "arg"))
    package var powerOnCommand: [String] = []

    /// How long a power command may run.
    @Option(help: ArgumentHelp("Seconds a power command may run before it is killed.", valueName: "seconds"))
    package var commandTimeout: Int = 120

    /// The lab whose node this BMC powers (instead of a state file and commands).
    @Option(help: ArgumentHelp("Power a node of this lab (with --node): the state is the node's.", valueName: "name"))
    package var lab: String?

    /// The lab node's index.
    @Option(help: ArgumentHelp("The lab node's index (with --lab).", valueName: "index"))
    package var node: Int?

    /// An empty command, for the argument parser.
    package init() {}

    /// Checks the option values before anything starts.
    package func validate() throws {
        guard !systemID.isEmpty,
            systemID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else {
            throw ValidationError("--system-id must be letters, digits, '.', '_' or '-'")
        }
        if (lab == nil) != (node == nil) { throw ValidationError("--lab and --node go together") }
        if lab == nil && stateFile.isEmpty { throw ValidationError("give --state-file, or --lab and --node") }
        if let lab {
            do { _ = try Lab(name: lab) } catch { throw ValidationError(String(describing: error)) }
        }
        guard commandTimeout > 0 else { throw ValidationError("--command-timeout must be at least 1 second") }
    }

    /// The power control these options describe.
    package var powerControl: any PowerControl {
        if let lab, let node, let labValue = try? Lab(name: lab) {
            return LabPowerControl(lab: labValue, index: node, executable: Lab.executable)
        }
        return FilePowerControl(
            stateFile: stateFile, powerOffCommand: powerOffCommand, powerOnCommand: powerOnCommand,
            commandTimeout: TimeInterval(commandTimeout))
    }

    /// Serves until SIGTERM or SIGINT, then stops cleanly.
    package func run() async throws {
        let bmc: RedfishBMC
        do {
            let credentials = try BMCCredentials(username: username, passwordFile: passwordFile)
            _ = try await powerControl.powerState()
            bmc = try RedfishBMC(
                host: listen.host, port: listen.port, tlsPEM: tlsPEM, credentials: credentials, systemID: systemID,
                power: powerControl,
                log: { line in FileHandle.standardError.write(Data("khactl lab bmc: \(line)\n".utf8)) })
            try await bmc.start()
        } catch {
            throw CLIError(String(describing: error))
        }
        let address = BMCListenAddress(host: listen.host, port: bmc.port)
        print("khactl lab bmc: serving Redfish for system \(systemID) on \(address)\(tlsPEM == nil ? " (plain HTTP)" : " (HTTPS)")")
        fflush(nil)  // flushes every stream; `stdout` itself is a global Swift 6 will not touch
        for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) { break }
        await bmc.stop()
    }
}
