import ArgumentParser
import Corosync
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `khactl watch`: membership, quorum and CPG events as they happen.
package struct Watch: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Stream membership, quorum and CPG events.",
        discussion: """
            Prints the current quorum state first, then every change. With --output json each event is one
            JSON object per line with time (RFC 3339, milliseconds), kind (membership, quorum, cpg,
            connection), node (the local node id) and the event's fields.

            Runs as a service: SIGTERM or SIGINT stops event intake, gives the queued sinks (exec:, webhook:)
            up to --flush-timeout seconds to deliver what is queued, prints one summary line per queued sink
            on stderr and exits 0. Logs go to stderr.

            The webhook token is read from --webhook-token-file, else from the environment variable
            KHACTL_WEBHOOK_TOKEN (which is then removed from the environment, so alert agents never see it);
            it is never taken from the command line and never printed.
            """
    )

    @OptionGroup package var global: GlobalOptions

    @Option(help: "Exit after this many events.")
    package var count: Int?

    @Flag(help: "When corosync goes away, report it and reconnect with backoff instead of exiting.")
    package var reconnect = false

    @Option(help: "The CPG group the watchers join.")
    package var group = "khactl-watch"

    @Option(
        name: .customLong("sink"),
        help: ArgumentHelp(
            "Where events go: stdout (the default), exec:PATH to run a Pacemaker alert agent with the CRM_alert_* environment, or webhook:http://HOST[:PORT]/PATH to POST each event's JSON. Repeatable.",
            valueName: "sink"))
    package var sinks: [String] = []

    @Flag(help: "With a watcher on every node, only the leader (lowest node id, then pid, among the watchers of the CPG group that hold the cluster's key) emits, so each event arrives once per cluster.")
    package var leaderOnly = false

    @Option(help: "CRM_alert_recipient for exec: sinks (for alert_file.sh.sample: the file to append to).")
    package var recipient = ""

    @Flag(help: "Receive Pacemaker's alerts (`khactl alert install`) and share them with the other watchers.")
    package var alerts = false

    @Option(help: ArgumentHelp("The socket alerts arrive on, with --alerts.", valueName: "path"))
    package var alertSocket = PacemakerAlert.defaultSocket

    @Option(help: ArgumentHelp(
        "corosync's authkey, from which the key that authenticates the watchers to each other is derived (with --alerts or --leader-only).",
        valueName: "file"))
    package var authkey = WatcherKey.defaultAuthkey

    @Option(
        help: ArgumentHelp(
            "A file holding the webhook's bearer token (e.g. %d/webhook-token with systemd's LoadCredential=). Without it, KHACTL_WEBHOOK_TOKEN is used if set.",
            valueName: "path"))
    package var webhookTokenFile: String?

    @Option(help: "Attempts per event for webhook sinks (retries use exponential backoff with jitter).")
    package var webhookAttempts = RetryPolicy.webhookDefault.attempts

    @Option(help: ArgumentHelp("The limit of one webhook attempt (connect, TLS, send, response).", valueName: "seconds"))
    package var webhookTimeout: Double = 5

    @Option(
        name: .customLong("webhook-ca-file"),
        help: ArgumentHelp("PEM CA certificates that https webhook receivers are verified against, instead of the system's.", valueName: "file"))
    package var webhookCAFile: String?

    @Option(help: "Events (alerts for exec:) each queued sink holds; beyond it the oldest are dropped and counted.")
    package var sinkQueue = 256

    @Option(help: ArgumentHelp("On shutdown, how long queued sinks may take to deliver what is left.", valueName: "seconds"))
    package var flushTimeout: Double = 5

    @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error or critical.")
    package var logLevel: Logger.Level = .notice

    package init() {}

    /// The sinks as given, parsed.
    enum SinkSpec: Equatable {
        case stdout
        case exec(String)
        case webhook(WebhookTarget)
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
            if sink.hasPrefix("webhook:") {
                do {
                    return .webhook(try WebhookTarget(parsing: String(sink.dropFirst(8))))
                } catch let error as WebhookError {
                    throw ValidationError(error.message)
                }
            }
            throw ValidationError("unknown sink \"\(sink)\": use stdout, exec:PATH or webhook:URL")
        }
    }

    package func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        let parsed = try parsedSinks()
        if webhookTokenFile != nil && !parsed.contains(where: { if case .webhook = $0 { true } else { false } }) {
            throw ValidationError("--webhook-token-file needs a --sink webhook:URL")
        }
        guard webhookAttempts >= 1 else { throw ValidationError("--webhook-attempts must be at least 1") }
        guard webhookTimeout > 0 else { throw ValidationError("--webhook-timeout must be more than 0 seconds") }
        guard sinkQueue >= 1 else { throw ValidationError("--sink-queue must be at least 1") }
        guard flushTimeout >= 0 else { throw ValidationError("--flush-timeout must be 0 or more seconds") }
        do { _ = try CPGGroupName(group) } catch { throw ValidationError(String(describing: error)) }
    }

    package func run() async throws {
        var logger = Logger(label: "khactl.watch") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = logLevel
        let specs = try parsedSinks()

        // The token, before anything starts; then out of the environment, so no child inherits it.
        var token: WebhookToken?
        if specs.contains(where: { if case .webhook = $0 { true } else { false } }) {
            do {
                let loaded = try WebhookToken.load(file: webhookTokenFile, environment: ProcessInfo.processInfo.environment)
                token = loaded.token
                if loaded.looseFile, let file = webhookTokenFile {
                    logger.warning("the webhook token file \(file) can be read by group or others; chmod 0600 it")
                }
            } catch {
                throw CLIError(error.message)
            }
        }
        unsetenv(WebhookToken.environmentVariable)

        var watcherKey: WatcherKey?
        if alerts || leaderOnly {
            do {
                watcherKey = try WatcherKey(authkey: authkey)
            } catch {
                throw CLIError(
                    "khactl watch \(alerts ? "--alerts" : "--leader-only"): cannot use corosync's authkey \(error) (it authenticates the watchers to each other; --authkey FILE names another)")
            }
        }

        var names: [NodeID: String] = [:]
        if specs.contains(where: { if case .exec = $0 { true } else { false } }),
            let cmap = try? CMap(endpoint: global.endpoint.endpoint)
        {
            for node in (try? cmap.nodeList()) ?? [] { names[node.nodeID] = node.name }
            cmap.close()
        }
        let policy = RetryPolicy(
            attempts: webhookAttempts, baseDelay: RetryPolicy.webhookDefault.baseDelay,
            maximumDelay: RetryPolicy.webhookDefault.maximumDelay)
        var queued: [any QueuedSink] = []
        for spec in specs {
            switch spec {
            case .stdout:
                break
            case .exec(let path):
                queued.append(AlertAgentSink(path: path, recipient: recipient, names: names, capacity: sinkQueue, logger: logger))
            case .webhook(let target):
                do {
                    queued.append(
                        try WebhookSink(
                            target: target, token: token, policy: policy, timeout: .seconds(webhookTimeout), capacity: sinkQueue,
                            caFile: webhookCAFile, logger: logger))
                } catch {
                    throw CLIError(error.message)
                }
            }
        }
        if token == nil, specs.contains(where: { if case .webhook = $0 { true } else { false } }) {
            logger.info("no webhook token given: posting without an Authorization header")
        }

        let processor = WatchIntake(
            output: specs.isEmpty || specs.contains(.stdout) ? global.output : nil, sinks: queued, leaderOnly: leaderOnly,
            count: count, logger: logger)
        let source = ClusterEventSource(
            endpoint: global.endpoint.endpoint, group: try CPGGroupName(group), reconnect: reconnect,
            alertSocket: alerts ? alertSocket : nil, watcherKey: watcherKey, settled: { processor.settled })
        let events: WatchIntakeService.Events
        do {
            events = try source.events(handler: processor.handle)
        } catch {
            throw CLIError(String(describing: error))
        }
        let intake = WatchIntakeService(events: events, intake: processor, logger: logger)
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
