import ArgumentParser
import Corosync
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `khactl watch`: membership, quorum and CPG events as they happen.
public struct Watch: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Stream membership, quorum and CPG events.",
        discussion: """
            Prints the current quorum state first, then every change. With --output json each event is one
            JSON object per line with time (RFC 3339, milliseconds), kind (membership, quorum, cpg,
            connection), node (the local node id) and the event's fields.

            Runs as a service: SIGTERM or SIGINT stops event intake, gives the queued sinks (exec:)
            up to --flush-timeout seconds to deliver what is queued, prints one summary line per queued sink
            on stderr and exits 0. Logs go to stderr.
            """
    )

    @OptionGroup public var global: GlobalOptions

    @Option(help: "Exit after this many events.")
    public var count: Int?

    @Flag(help: "When corosync goes away, report it and reconnect with backoff instead of exiting.")
    public var reconnect = false

    @Option(help: "The CPG group the watchers join.")
    public var group = "khactl-watch"

    @Option(
        name: .customLong("sink"),
        help: ArgumentHelp(
            "Where events go: stdout (the default), or exec:PATH to run a Pacemaker alert agent with the CRM_alert_* environment. Repeatable.",
            valueName: "sink"))
    public var sinks: [String] = []

    @Flag(help: "With a watcher on every node, only the leader (lowest node id in the watchers' CPG group) emits, so each event arrives once per cluster.")
    public var leaderOnly = false

    @Option(help: "CRM_alert_recipient for exec: sinks (for alert_file.sh.sample: the file to append to).")
    public var recipient = ""

    @Option(help: "Alerts each exec: sink holds; beyond it the oldest are dropped and counted.")
    public var sinkQueue = 256

    @Option(help: ArgumentHelp("On shutdown, how long queued sinks may take to deliver what is left.", valueName: "seconds"))
    public var flushTimeout: Double = 5

    @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error or critical.")
    public var logLevel: Logger.Level = .notice

    public init() {}

    /// The sinks as given, parsed.
    enum SinkSpec: Equatable {
        case stdout
        case exec(String)
    }

    func parsedSinks() throws -> [SinkSpec] {
        try sinks.map { sink in
            if sink == "stdout" { return .stdout }
            if sink.hasPrefix("exec:") {
                let path = String(sink.dropFirst(5))
                guard path.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: path) else {
                    throw ValidationError("exec: sink \(path) is not an executable file given by its absolute path")
                }
                return .exec(path)
            }
            throw ValidationError("unknown sink \"\(sink)\": use stdout or exec:PATH")
        }
    }

    public func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        _ = try parsedSinks()
        guard sinkQueue >= 1 else { throw ValidationError("--sink-queue must be at least 1") }
        guard flushTimeout >= 0 else { throw ValidationError("--flush-timeout must be 0 or more seconds") }
        do { _ = try CPGGroupName(group) } catch { throw ValidationError(String(describing: error)) }
    }

    public func run() async throws {
        var logger = Logger(label: "khactl.watch") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = logLevel
        let specs = try parsedSinks()

        let source = ClusterEventSource(
            endpoint: global.endpoint.endpoint, group: try CPGGroupName(group), reconnect: reconnect)
        let events: WatchIntakeService.Events
        do {
            events = try source.events()
        } catch {
            throw CLIError(String(describing: error))
        }

        var names: [NodeID: String] = [:]
        if specs.contains(where: { if case .exec = $0 { true } else { false } }),
            let cmap = try? CMap(endpoint: global.endpoint.endpoint)
        {
            for node in (try? cmap.nodeList()) ?? [] { names[node.nodeID] = node.name }
            cmap.close()
        }
        let queued: [any QueuedSink] = specs.compactMap { spec -> (any QueuedSink)? in
            switch spec {
            case .stdout:
                return nil
            case .exec(let path):
                return AlertAgentSink(path: path, recipient: recipient, names: names, capacity: sinkQueue, logger: logger)
            }
        }

        let intake = WatchIntakeService(
            events: events, output: specs.isEmpty || specs.contains(.stdout) ? global.output : nil, sinks: queued,
            leaderOnly: leaderOnly, count: count, logger: logger)
        // Intake last: the group shuts services down in reverse order, so intake stops before the sinks flush.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if !queued.isEmpty {
            services.append(
                .init(
                    service: SinkShutdownService(sinks: queued, grace: .seconds(flushTimeout), logger: logger),
                    serviceName: "sinks"))
        }
        services.append(
            .init(
                service: intake, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "intake"))
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A backstop: the sinks bound their own flush; nothing else should take long.
        configuration.maximumGracefulShutdownDuration = .seconds(flushTimeout) + .seconds(5)

        let sinkNames = (specs.isEmpty || specs.contains(.stdout) ? ["stdout"] : []) + queued.map(\.name)
        logger.info("watching", metadata: ["group": "\(group)", "sinks": "\(sinkNames.joined(separator: " "))"])
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            throw CLIError("watch ended: \(error)")
        }
        logger.info("stopped")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
