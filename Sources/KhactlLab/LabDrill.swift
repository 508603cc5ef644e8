import Pacemaker
import KhactlCore
import ClusterExec
import Corosync
import Foundation
import Synchronization

/// One failover round of a drill.
package struct DrillRound: Hashable, Sendable {
    /// The node that held the resource and was killed.
    package let victim: String
    /// Where the resource runs afterwards.
    package let newHolder: String
    /// Seconds from the kill until the VIP answered ICMP echo at the lab client.
    package let failover: Double
    /// Seconds until a TCP connect to the VIP's port succeeded at the lab client, if probed.
    package let tcp: Double?
    /// Seconds until corosync on a survivor reported a membership without the victim.
    package let membership: Double?
    /// Seconds until pacemaker reported the resource started on another node.
    package let recovery: Double
    /// Samples (every 20 ms) in which more than one node had the VIP configured.
    package let dualActiveSamples: Int
    /// Samples taken.
    package let samples: Int
    /// The cluster's nodes still powered on once the VIP answered again (a split must leave one side).
    package var poweredOn: [String] = []
    /// Where the time went, from the survivors' daemon logs.
    package var phases = FailoverPhases()
}

/// A drill's rounds and their summary.
package struct DrillReport: Hashable, Sendable {
    /// The fault injected each round.
    package let mode: LabFault
    /// The rounds.
    package let rounds: [DrillRound]

    /// min, median, max of `values`.
    package static func summary(_ values: [Double]) -> (min: Double, median: Double, max: Double)? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        return (sorted[0], median, sorted[sorted.count - 1])
    }

    /// Dual-active samples over all rounds.
    package var dualActiveSamples: Int { rounds.map(\.dualActiveSamples).reduce(0, +) }

    /// The report as one JSON object: `rounds`, `failover` {min, median, max}, `dualActiveSamples`, ...
    package var json: JSONValue {
        func stats(_ values: [Double]) -> JSONValue {
            guard let summary = DrillReport.summary(values) else { return .null }
            return ["min": .seconds(summary.min), "median": .seconds(summary.median), "max": .seconds(summary.max)]
        }
        return [
            "mode": .string(mode.rawValue),
            "rounds": .integer(Int64(rounds.count)),
            "failover": stats(rounds.map(\.failover)),
            "tcp": stats(rounds.compactMap(\.tcp)),
            "membership": stats(rounds.compactMap(\.membership)),
            "recovery": stats(rounds.map(\.recovery)),
            "dualActiveSamples": .integer(Int64(dualActiveSamples)),
            "details": .array(rounds.map { round in
                [
                    "victim": .string(round.victim), "newHolder": .string(round.newHolder),
                    "failover": .seconds(round.failover), "tcp": round.tcp.map { .seconds($0) } ?? .null,
                    "membership": round.membership.map { .seconds($0) } ?? .null,
                    "recovery": .seconds(round.recovery),
                    "dualActiveSamples": .integer(Int64(round.dualActiveSamples)), "samples": .integer(Int64(round.samples)),
                    "poweredOn": .array(round.poweredOn.map { .string($0) }),
                    "phases": .object(round.phases.json),
                ]
            }),
            "phases": .object(phaseMedians),
        ]
    }

    /// Each phase's median over the rounds that show it.
    package var phaseMedians: [String: JSONValue] {
        var medians: [String: JSONValue] = [:]
        for field in FailoverPhases.fields {
            medians[field.key] = DrillReport.summary(rounds.compactMap { $0.phases[keyPath: field.value] }).map { .seconds($0.median) } ?? .null
        }
        return medians
    }

    /// A few lines for people.
    package var text: String {
        var lines = rounds.enumerated().map { index, round in
            "round \(index + 1): \(round.victim) -> \(round.newHolder): VIP answers after \(format(round.failover)) s"
                + (round.tcp.map { ", TCP \(format($0)) s" } ?? "")
                + (round.membership.map { ", membership \(format($0)) s" } ?? "")
                + ", pacemaker \(format(round.recovery)) s, dual-active samples \(round.dualActiveSamples)/\(round.samples)"
                + round.phases.text
        }
        if let summary = DrillReport.summary(rounds.map(\.failover)) {
            lines.append(
                "failover (\(mode.rawValue), client-observed): min \(format(summary.min)) s, median \(format(summary.median)) s, "
                    + "max \(format(summary.max)) s over \(rounds.count) rounds; dual-active samples \(dualActiveSamples)")
        }
        return lines.joined(separator: "\n")
    }
}

private func format(_ seconds: Double) -> String { String(format: "%.3f", seconds) }


extension Lab {
    /// Options of a drill.
    package struct DrillOptions: Sendable {
        /// Rounds to run.
        package var rounds = 3
        /// The fault to inject into the holder.
        package var mode: LabFault = .crash
        /// The resource whose holder is killed.
        package var resource = "vip"
        /// The floating address probed from the lab client.
        package var vip = LabNetwork.defaultVIP
        /// A TCP port on the VIP to probe as well.
        package var port: UInt16? = LabExample.port
        /// How long a round may take before it fails.
        package var roundTimeout: Duration = .seconds(60)

        /// Default options.
        package init() {}
    }

    /// Kills the holder of `resource` round after round and measures, from the lab client, how long the
    /// VIP is gone; samples VIP ownership on every node all along to count dual-active moments.
    package func drill(_ options: DrillOptions, progress: @Sendable (String) -> Void = { _ in }) async throws -> DrillReport {
        guard options.mode != .freeze else { throw LabError("drills use crash, partition or isolate") }
        let probe = try ClientProbe(namespace: try switchNamespace(), address: options.vip, port: options.port)
        defer { probe.stop() }
        var rounds: [DrillRound] = []
        for round in 1...max(1, options.rounds) {
            try await waitUntilOnline(count: nil, timeout: options.roundTimeout)
            try await settle(timeout: options.roundTimeout)
            // The holder is read only once the cluster has settled: right after a node was fenced and
            // revived, the status can still show the resource on that node until the DC has caught up, and
            // the resource then shows up elsewhere.
            let victim = try await waitForResource(options.resource, timeout: options.roundTimeout)
            guard let victimIndex = Int(victim.dropFirst(4)) else { throw LabError("unexpected node name \(victim)") }
            progress("round \(round): \(options.mode.rawValue) \(victim), which holds \(options.resource)")

            let sampler = OwnershipSampler(lab: self, address: options.vip)
            let members = try await clusterNodes()
            let membership = try MembershipWatch(lab: self, excluding: victimIndex, among: members)
            let start = ContinuousClock.now
            let faultTime = Date()
            sampler.start()
            try await kill(victimIndex, options.mode)
            // The victim is off the network once kill returns; answers to requests sent from now on come
            // from its successor.
            let killed = ContinuousClock.now
            let newHolder = try await waitForResource(options.resource, notOn: victim, timeout: options.roundTimeout)
            let recovered = ContinuousClock.now
            var answered: (ping: ContinuousClock.Instant?, connect: ContinuousClock.Instant?) = (nil, nil)
            while ContinuousClock.now - start < options.roundTimeout {
                answered = probe.firstAnswers(after: killed)
                if answered.ping != nil && (options.port == nil || answered.connect != nil) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            guard let ping = answered.ping else { throw LabError("round \(round): the VIP did not answer within \(options.roundTimeout)") }
            // Keep sampling a little after the move: a late second holder would show here.
            try await Task.sleep(for: .seconds(1))
            let samples = sampler.stop()
            let left = membership.stop()
            // A split ends with one side fenced: the cluster's nodes still powered on and on the network.
            let survivors = try state().nodes.filter { members.contains($0.name) && $0.initProcess?.isAlive == true }.map(\.name)
            var result = DrillRound(
                victim: victim, newHolder: newHolder, failover: (ping - start).seconds,
                tcp: answered.connect.map { ($0 - start).seconds }, membership: left.map { ($0 - start).seconds },
                recovery: (recovered - start).seconds, dualActiveSamples: samples.dual, samples: samples.total,
                poweredOn: survivors)
            result.phases = phases(since: faultTime, victim: victim, survivors: survivors, resource: options.resource)
            rounds.append(result)
            progress("round \(round): VIP answers on \(newHolder) after \(format((ping - start).seconds)) s; dual-active samples \(samples.dual)")
            try await revive(victimIndex)
        }
        try await waitUntilOnline(count: nil, timeout: options.roundTimeout)
        return DrillReport(mode: options.mode, rounds: rounds)
    }
}

extension Lab {
    /// The phases of the failover that began at `fault`, from the last 4 MiB of each survivor's corosync and
    /// pacemaker log.
    func phases(since fault: Date, victim: String, survivors: [String], resource: String) -> FailoverPhases {
        let folders = ((try? state().nodes) ?? []).filter { survivors.contains($0.name) && $0.name != victim }
            .map { store.nodeFolder($0.index).path }
        func tails(_ relative: String) -> [String] {
            folders.compactMap { folder in
                guard let handle = FileHandle(forReadingAtPath: "\(folder)/\(relative)") else { return nil }
                defer { try? handle.close() }
                let size = (try? handle.seekToEnd()) ?? 0
                try? handle.seek(toOffset: size > 4 << 20 ? size - (4 << 20) : 0)
                return (try? handle.readToEnd()).map { String(decoding: $0, as: UTF8.self) }
            }
        }
        return FailoverPhases.read(
            corosyncLogs: tails("var/log/corosync/corosync.log"), pacemakerLogs: tails("var/log/pacemaker/pacemaker.log"),
            since: fault, victim: victim, resource: resource)
    }

    /// Waits until the cluster has settled: the DC has no actions pending (`crm_resource --wait`) and is
    /// idle, with every controller joined. Every node online is not yet settled: a node that just joined
    /// is still being probed, and a DC still integrating a node (S_INTEGRATION) makes a crash cost the
    /// scheduler a second more.
    func settle(timeout: Duration) async throws {
        let members = try await clusterNodes()
        guard let node = try state().nodes.first(where: { members.contains($0.name) && $0.initProcess?.isAlive == true && $0.fault == nil }) else {
            throw LabError("no node of lab \(name) is powered on and reachable")
        }
        try await runner.check(try nodeCommand(node.index, ["crm_resource", "--wait", "--timeout", "60s"], timeout: .seconds(70)))
        try await waitForIdleDC(from: node.index, timeout: timeout)
    }

    /// Waits until every node's controller has joined and the DC is idle: the DC in S_IDLE and every other
    /// controller in S_NOT_DC, asked through `crmadmin` on node `index`.
    func waitForIdleDC(from index: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = "no answer yet"
        let names = try await clusterNodes()
        while ContinuousClock.now < deadline {
            var states: [String] = []
            for name in names {
                let status = try await runner.run(
                    try nodeCommand(index, ["crmadmin", "--status", name, "--output-as=xml", "--timeout", "2s"], timeout: .seconds(10)))
                states.append(status.standardOutput.firstMatch(of: #/state="(\w+)"/#).map { String($0.output.1) } ?? "no answer")
            }
            if states.filter({ $0 == "S_IDLE" }).count == 1 && states.allSatisfy({ $0 == "S_IDLE" || $0 == "S_NOT_DC" }) { return }
            last = states.joined(separator: ", ")
            try await Task.sleep(for: .milliseconds(200))
        }
        throw LabError("the cluster did not settle within \(timeout) (controllers: \(last))")
    }
}

/// Samples, every 20 ms, which nodes have an address configured, and counts samples with two or more.
final class OwnershipSampler: Sendable {
    private let counts = Mutex((dual: 0, total: 0))
    private let running = Atomic<Bool>(false)
    private let nodes: [Int32]
    private let address: String

    init(lab: Lab, address: String) {
        self.address = address
        self.nodes = ((try? lab.state().nodes) ?? []).compactMap { $0.initProcess?.pid }
    }

    func start() {
        running.store(true, ordering: .relaxed)
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                let owners = nodes.filter { AddressOwnership.has(address, pid: $0) }.count
                counts.withLock {
                    $0.total += 1
                    if owners > 1 { $0.dual += 1 }
                }
                usleep(20_000)
            }
        }
        thread.start()
    }

    func stop() -> (dual: Int, total: Int) {
        running.store(false, ordering: .relaxed)
        usleep(30_000)
        return counts.withLock { $0 }
    }
}

/// Watches corosync membership on a survivor for the first membership without the victim, through
/// `khactl watch` run inside that node: its corosync's IPC lives in the node's private /dev/shm, which
/// a process outside the node's mount namespace cannot open.
final class MembershipWatch: Sendable {
    private let seen = SeenInstant()
    private let process: StreamingProcess?

    private final class SeenInstant: Sendable {
        let value = Mutex<ContinuousClock.Instant?>(nil)
    }

    init(lab: Lab, excluding victim: Int, among members: [String]) throws {
        let survivor = try lab.state().nodes.first {
            $0.index != victim && members.contains($0.name) && $0.initProcess?.isAlive == true && $0.fault == nil
        }
        guard let survivor else {
            process = nil
            return
        }
        let command = try lab.nodeCommand(survivor.index, [Lab.executable, "watch", "--output", "json", "--group", "khactl-drill"])
        let victimID = Int64(victim)
        process = try StreamingProcess(command) { [seen] line in
            let now = ContinuousClock.now
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["kind"] as? String == "membership", let members = object["members"] as? [NSNumber],
                !members.contains(where: { $0.int64Value == victimID })
            else { return }
            seen.value.withLock { if $0 == nil { $0 = now } }
        }
    }

    func stop() -> ContinuousClock.Instant? {
        process?.stop()
        return seen.value.withLock { $0 }
    }
}
