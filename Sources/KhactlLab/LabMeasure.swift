import Pacemaker
import KhactlCore
import ClusterExec
import Foundation
import Synchronization

/// What the lab client saw of the API endpoint while an operation ran: ICMP echo to the VIP every 20 ms, HTTPS
/// requests to a URL on it, and samples of which nodes held the VIP (and how many were in standby).
package struct EndpointReport: Hashable, Sendable {
    /// Seconds the operation took.
    package var seconds: Double
    /// Echo requests sent, and those never answered.
    package var pingsSent: Int
    package var pingsLost: Int
    /// The longest time without an echo answer, seconds.
    package var longestPingGap: Double
    /// HTTPS requests made, and those that failed (no 2xx answer).
    package var httpRequests: Int
    package var httpFailed: Int
    /// The longest time without a successful HTTPS answer, seconds (the endpoint's longest outage).
    package var longestHTTPOutage: Double?
    /// Samples in which two or more nodes held the VIP, of `samples`.
    package var dualActiveSamples: Int
    package var samples: Int
    /// The most nodes in standby at once, over `standbySamples` samples (when sampled).
    package var maxStandby: Int?
    package var standbySamples: Int

    /// One JSON object.
    package var json: JSONValue {
        [
            "seconds": .seconds(seconds), "pingsSent": .integer(Int64(pingsSent)), "pingsLost": .integer(Int64(pingsLost)),
            "longestPingGap": .seconds(longestPingGap), "httpRequests": .integer(Int64(httpRequests)),
            "httpFailed": .integer(Int64(httpFailed)), "longestHTTPOutage": longestHTTPOutage.map { .seconds($0) } ?? .null,
            "dualActiveSamples": .integer(Int64(dualActiveSamples)), "samples": .integer(Int64(samples)),
            "maxStandby": maxStandby.map { .integer(Int64($0)) } ?? .null, "standbySamples": .integer(Int64(standbySamples)),
        ]
    }

    /// One line for people.
    package var text: String {
        var parts = [
            String(format: "%.2f s", seconds),
            "pings lost \(pingsLost)/\(pingsSent) (longest gap \(String(format: "%.3f", longestPingGap)) s)",
        ]
        if let longestHTTPOutage {
            parts.append("HTTPS failed \(httpFailed)/\(httpRequests) (longest outage \(String(format: "%.3f", longestHTTPOutage)) s)")
        }
        parts.append("dual-active samples \(dualActiveSamples)/\(samples)")
        if let maxStandby { parts.append("at most \(maxStandby) node(s) in standby over \(standbySamples) samples") }
        return "endpoint: " + parts.joined(separator: ", ")
    }

    /// The longest time in `start...end` not covered by an answer in `answers` (sorted instants).
    static func longestGap(_ answers: [ContinuousClock.Instant], start: ContinuousClock.Instant, end: ContinuousClock.Instant) -> Double {
        var previous = start
        var longest: Duration = .zero
        for answer in answers.sorted() where answer >= start && answer <= end {
            longest = max(longest, answer - previous)
            previous = answer
        }
        return max(longest, end - previous).seconds
    }
}

/// HTTPS requests from the lab client, one every `interval`, each on a new connection: one `curl` with a URL
/// range and `--rate`, whose per-request status lines are stamped as they arrive. curl runs them one after
/// another, so a request whose SYN went to a node that just lost the VIP would hold up the next ones for a
/// SYN retransmission (1 s); a 0.3 s connect timeout fails it instead and the next one goes.
final class HTTPPoller: Sendable {
    private final class Answers: Sendable {
        let value = Mutex<[(at: ContinuousClock.Instant, status: Int)]>([])
    }

    private let answers = Answers()
    private let process: StreamingProcess

    init(lab: Lab, url: String, interval: Duration) throws {
        let perSecond = max(1, Int((1.0 / interval.seconds).rounded()))
        let separator = url.contains("?") ? "&" : "?"
        let command = try lab.switchCommand([
            "curl", "-sk", "--no-buffer", "--rate", "\(perSecond)/s", "-H", "Connection: close", "--connect-timeout", "0.3", "--max-time", "1",
            "-w", "\\nkhactl-probe %{http_code}\\n", "\(url)\(separator)khactl-probe=[1-10000000]",
        ])
        process = try StreamingProcess(command) { [answers] line in
            let now = ContinuousClock.now
            // Bodies go to stdout too (curl's -o names one file, not one per URL of a range); each request's
            // status line is the one that starts with the marker.
            guard line.hasPrefix("khactl-probe "), let status = Int(line.dropFirst(13)) else { return }
            answers.value.withLock { $0.append((now, status)) }
        }
    }

    func stop() -> [(at: ContinuousClock.Instant, status: Int)] {
        process.stop()
        return answers.value.withLock { $0 }
    }
}

/// Counts the nodes in standby (from the CIB's nodes section, in the first node that answers) every 250 ms.
final class StandbySampler: Sendable {
    private final class Counts: Sendable {
        let value = Mutex<[Int]>([])
    }

    private let counts = Counts()
    private let task: Task<Void, Never>

    init(lab: Lab) {
        let runner = SubprocessRunner()
        let counts = self.counts
        task = Task {
                while !Task.isCancelled {
                    if let node = try? lab.state().nodes.first(where: { $0.initProcess?.isAlive == true && $0.fault == nil }),
                        let command = try? lab.nodeCommand(node.index, ["cibadmin", "--query", "--scope", "nodes"], timeout: .seconds(10)),
                        let output = try? await runner.run(command), output.succeeded
                    {
                        let standby = output.standardOutput.matches(of: #/name="standby" value="(on|true|yes|1)"/#).count
                        counts.value.withLock { $0.append(standby) }
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
        }
    }

    func stop() async -> [Int] {
        task.cancel()
        await task.value
        return counts.value.withLock { $0 }
    }
}

extension Lab {
    /// What to probe while an operation runs.
    package struct MeasureOptions: Sendable {
        /// The VIP pinged (and sampled on every node).
        package var vip = LabNetwork.defaultVIP
        /// An HTTPS (or HTTP) URL requested from the lab client, e.g. `https://198.18.0.100:7443/healthz`.
        package var url: String?
        /// How often the URL is requested.
        package var interval: Duration = .milliseconds(50)
        /// Also count the nodes in standby, every 250 ms.
        package var standby = false

        /// Default options.
        package init() {}
    }

    /// Runs `body` while the lab client probes the endpoint; returns its result and what the client saw.
    package func measure<T: Sendable>(_ options: MeasureOptions, _ body: () async throws -> T) async throws -> (T, EndpointReport) {
        let probe = try ClientProbe(namespace: try switchNamespace(), address: options.vip, port: nil)
        let sampler = OwnershipSampler(lab: self, address: options.vip)
        let poller = try options.url.map { try HTTPPoller(lab: self, url: $0, interval: options.interval) }
        let standby = options.standby ? StandbySampler(lab: self) : nil
        // Let every probe get going, so the window starts with the endpoint answering.
        try await Task.sleep(for: .milliseconds(300))
        sampler.start()
        let start = ContinuousClock.now
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        let end = ContinuousClock.now
        // Answers to requests sent before the end may still be on their way.
        try await Task.sleep(for: .milliseconds(300))
        let samples = sampler.stop()
        probe.stop()
        let pings = probe.pingRecord(from: start, to: end)
        let http = poller?.stop().filter { $0.at >= start }
        let standbyCounts = await standby?.stop()
        let answeredHTTP = (http ?? []).filter { (200..<300).contains($0.status) }.map(\.at)
        let report = EndpointReport(
            seconds: (end - start).seconds, pingsSent: pings.sent, pingsLost: pings.lost,
            longestPingGap: EndpointReport.longestGap(pings.answers, start: start, end: end),
            httpRequests: http?.count ?? 0, httpFailed: (http ?? []).filter { !(200..<300).contains($0.status) }.count,
            longestHTTPOutage: http.map { _ in EndpointReport.longestGap(answeredHTTP, start: start, end: end) },
            dualActiveSamples: samples.dual, samples: samples.total,
            maxStandby: standbyCounts.map { $0.max() ?? 0 }, standbySamples: standbyCounts?.count ?? 0)
        return (try result.get(), report)
    }
}

extension ClientProbe {
    /// Echo requests sent in `start...end`, those never answered, and when the answers came.
    func pingRecord(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant)
        -> (sent: Int, lost: Int, answers: [ContinuousClock.Instant])
    {
        let (unanswered, answered) = unansweredAndAnswered()
        let inWindow = answered.filter { $0.sent >= start && $0.sent <= end }
        let lost = unanswered.filter { $0 >= start && $0 <= end }.count
        return (inWindow.count + lost, lost, answered.map(\.received))
    }
}

/// Runs commands inside the first lab node that is powered on and has no fault: the lab's route to the cluster's
/// tools for day-2 operations run from the host.
struct LabClusterRunner: CommandRunner {
    let lab: Lab
    let runner: any CommandRunner

    func run(_ command: Command) async throws(CommandError) -> CommandOutput {
        let inside: Command
        do {
            guard let node = try lab.state().nodes.first(where: { $0.initProcess?.isAlive == true && $0.fault == nil }) else {
                throw LabError("no node of lab \(lab.name) is powered on and reachable")
            }
            inside = try lab.nodeCommand(node.index, [command.executable] + command.arguments, environment: command.environment, timeout: command.timeout)
        } catch {
            throw CommandError(command: command, reason: .launchFailed(String(describing: error)))
        }
        var withInput = inside
        withInput.standardInput = command.standardInput
        return try await runner.run(withInput)
    }
}

/// The lab's route to a node: `nsenter` into it, as `khactl lab exec` does.
struct LabNodeRoute: NodeRoute {
    let lab: Lab

    func command(_ argv: [String], on node: String, timeout: Duration) throws -> Command {
        try lab.nodeCommand(try lab.nodeIndex(node), argv, timeout: timeout)
    }
}

extension Lab {
    /// A rolling upgrade of the lab's cluster, run from the host: the cluster's tools and the command run inside
    /// the nodes.
    package func rollingUpgrade() -> RollingUpgrade {
        RollingUpgrade(
            operations: ClusterOperations(runner: LabClusterRunner(lab: self, runner: runner)), route: LabNodeRoute(lab: self),
            runner: runner)
    }

    /// The stand-in API server's configuration with `version` in its `/version` answer: what a lab node's
    /// "kubeadm upgrade node" changes. Written while the node is in standby; the stand-in starts with it.
    static func upgradeStandIn(to version: String, failIfExists marker: String?) throws {
        if let marker, FileManager.default.fileExists(atPath: marker) {
            throw LabError("upgrade of the stand-in refused: \(marker) exists (the lab's way to make an upgrade fail)")
        }
        guard version.range(of: #"^[A-Za-z0-9.+_-]{1,64}$"#, options: .regularExpression) != nil else {
            throw LabError("invalid version \"\(version)\": use 1-64 characters A-Z, a-z, 0-9, . + _ -")
        }
        try Lab.replaceFile(Lab.standInConfig, with: Data(Lab.standInConfigText(version: version).utf8), mode: 0o644)
    }
}
