import ArgumentParser
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A `HOST:PORT` to listen on; IPv6 hosts in brackets (`[::1]:8000`).
public struct BMCListenAddress: Sendable, Hashable, ExpressibleByArgument, CustomStringConvertible {
    /// The numeric address (without brackets).
    public let host: String
    /// The TCP port (`0` picks a free one).
    public let port: UInt16

    /// An address from its parts.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`; `nil` for anything else.
    public init?(argument: String) {
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
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `khactl lab bmc`: runs an emulated Redfish BMC for one lab node until SIGTERM or SIGINT.
///
/// Hidden, and registered by `khactl lab` rather than here. The power state lives in `--state-file`;
/// Redfish power actions run `--power-off-command` / `--power-on-command`. Each occurrence of those options
/// adds one argument (so arguments that start with `-` need no quoting):
/// `--power-off-command khactl --power-off-command lab --power-off-command kill --power-off-command node2
/// --power-off-command --mode --power-off-command crash`. The BMC speaks plain HTTP; `fence_redfish` needs
/// HTTPS in front of it (see ``BMCTLSFrontend``). A lab that runs the BMC in-process uses ``RedfishBMC``
/// with its own ``PowerControl`` instead.
public struct LabBMCCommand: ParsableCommand {
    /// The command's name, help and visibility.
    public static let configuration = CommandConfiguration(
        commandName: "bmc",
        abstract: "Run an emulated Redfish BMC (plain HTTP) whose power actions run commands.",
        shouldDisplay: false
    )

    /// Where to listen.
    @Option(help: ArgumentHelp("Address and port to serve plain-HTTP Redfish on.", valueName: "host:port"))
    public var listen: BMCListenAddress

    /// The login name clients must send.
    @Option(help: "The username Redfish clients must send (HTTP basic auth).")
    public var username: String

    /// The file holding the password.
    @Option(help: ArgumentHelp("A file holding the password (one line).", valueName: "path"))
    public var passwordFile: String

    /// The file holding the power state.
    @Option(help: ArgumentHelp("A file holding the power state, On or Off (missing means On).", valueName: "path"))
    public var stateFile: String = ""

    /// The Redfish system ID.
    @Option(help: "The Redfish system Id (letters, digits, '.', '_', '-').")
    public var systemID: String = "1"

    /// The power-off command, one argument per occurrence.
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp("One argument of the command that cuts power; repeat for each argument.", valueName: "arg"))
    public var powerOffCommand: [String] = []

    /// The power-on command, one argument per occurrence.
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "One argument of the command that restores power; repeat for each argument.", valueName: "arg"))
    public var powerOnCommand: [String] = []

    /// How long a power command may run.
    @Option(help: ArgumentHelp("Seconds a power command may run before it is killed.", valueName: "seconds"))
    public var commandTimeout: Int = 120

    /// The lab whose node this BMC powers (instead of a state file and commands).
    @Option(help: ArgumentHelp("Power a node of this lab (with --node): the state is the node's.", valueName: "name"))
    public var lab: String?

    /// The lab node's index.
    @Option(help: ArgumentHelp("The lab node's index (with --lab).", valueName: "index"))
    public var node: Int?

    /// An empty command, for the argument parser.
    public init() {}

    /// Checks the option values before anything starts.
    public func validate() throws {
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
    public var powerControl: any PowerControl {
        if let lab, let node, let labValue = try? Lab(name: lab) {
            return LabPowerControl(lab: labValue, index: node, executable: Lab.executable)
        }
        return FilePowerControl(
            stateFile: stateFile, powerOffCommand: powerOffCommand, powerOnCommand: powerOnCommand,
            commandTimeout: TimeInterval(commandTimeout))
    }

    /// Serves until SIGTERM or SIGINT, then stops cleanly.
    public func run() throws {
        let credentials: BMCCredentials
        do {
            credentials = try BMCCredentials(username: username, passwordFile: passwordFile)
            _ = try powerControl.powerState()
        } catch {
            throw CLIError(String(describing: error))
        }
        let bmc = RedfishBMC(
            host: listen.host, port: listen.port, credentials: credentials, systemID: systemID, power: powerControl,
            log: { line in FileHandle.standardError.write(Data("khactl lab bmc: \(line)\n".utf8)) })

        // Turn SIGTERM and SIGINT into events on a queue instead of process death, so stop() runs.
        let stopRequested = DispatchSemaphore(value: 0)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            sigaddset(&unblock, signalNumber)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { stopRequested.signal() }
            source.resume()
            sources.append(source)
        }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)

        do {
            try bmc.start()
        } catch {
            throw CLIError(String(describing: error))
        }
        let address = BMCListenAddress(host: listen.host, port: bmc.port)
        print("khactl lab bmc: serving Redfish for system \(systemID) on \(address)")
        fflush(nil)  // flushes every stream; `stdout` itself is a global Swift 6 will not touch
        stopRequested.wait()
        bmc.stop()
        for source in sources { source.cancel() }
    }
}
