import ClusterExec
import Corosync
import Foundation
import Pacemaker

/// `khactl node add|remove|replace`: a controller joins or leaves the running cluster, driven by the spec
/// (the one source of truth), run on every node concerned at once.
///
/// - add NAME: on every node of the cluster, the new corosync.conf is written, then reloaded once every
///   member holds it (``ReloadBarrier``); on NAME itself, it is bootstrapped and joins. The apply engine then
///   adds NAME's fence device and removes what only a pair has (the arbiter and `priority-fencing-delay`).
/// - remove NAME: on NAME (if it still runs), pacemaker and corosync stop and its corosync.conf is put
///   aside; on every other node, the same barrier and reload, then `crm_node --remove` on one of them and
///   the apply engine removes NAME's fence device.
/// - replace NAME: on a rebuilt NAME (no corosync or pacemaker state), bootstrap; nothing else changes.
package struct MembershipChange: Sendable {
    package enum Kind: String, Sendable, CaseIterable {
        case add, remove, replace
    }

    /// What this node does in the change.
    package enum Role: Equatable, Sendable {
        /// A node of the cluster that stays: rewrite corosync.conf, coordinated reload, apply.
        case member
        /// The node that joins (add) or rejoins (replace): bootstrap.
        case joining
        /// The node that leaves: stop the stack, put corosync.conf aside.
        case leaving
    }

    package let kind: Kind
    /// The node added, removed or replaced.
    package let name: String
    package let deployment: DeploymentSpec
    package let cluster: ClusterSpec
    package var options: BootstrapOptions
    /// This host's node name.
    package let localName: String

    /// Checks the spec alone; throws before anything is touched.
    package init(kind: Kind, name: String, deployment: DeploymentSpec, options: BootstrapOptions) throws {
        guard let cluster = deployment.cluster else {
            throw BootstrapError("the spec has no cluster section; node \(kind.rawValue) needs the cluster's nodes")
        }
        self.kind = kind
        self.name = name
        self.deployment = deployment
        self.cluster = cluster
        self.options = options
        localName = options.node ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        let names = cluster.nodes.map(\.name)
        switch kind {
        case .add, .replace:
            guard names.contains(name) else {
                throw BootstrapError("\(name) is not in the spec's cluster (\(names.joined(separator: ", "))): add it to the spec first")
            }
        case .remove:
            guard !names.contains(name) else {
                throw BootstrapError("\(name) is still in the spec's cluster: take it out of the spec first (the spec is what the cluster becomes)")
            }
            guard cluster.nodes.count >= 2 else {
                throw BootstrapError("removing \(name) would leave \(cluster.nodes.count) node; a cluster needs at least two")
            }
        }
    }

    /// The role of this node, from the live cluster (nil when corosync does not run here).
    package func role(live: LiveMembership?) throws -> Role {
        let spec = Dictionary(uniqueKeysWithValues: cluster.nodes.map { ($0.name, $0) })
        guard let live else {
            switch kind {
            case .add, .replace:
                guard localName == name else {
                    throw BootstrapError("corosync does not run on this node (\(localName)); run node \(kind.rawValue) \(name) on the cluster's nodes and on \(name)")
                }
                return .joining
            case .remove:
                if localName == name { return .leaving }
                throw BootstrapError("corosync does not run on this node (\(localName)); run node remove on the nodes that stay")
            }
        }
        let liveNames = Set(live.nodes.map(\.name))
        let specNames = Set(spec.keys)
        func differs(_ expected: Set<String>) -> String? {
            guard specNames != expected else { return nil }
            let onlySpec = specNames.subtracting(expected).sorted(), onlyLive = expected.subtracting(specNames).sorted()
            return "the spec differs from the running cluster by more than \(kind == .add ? "adding" : "removing") \(name)"
                + (onlySpec.isEmpty ? "" : "; only in the spec: \(onlySpec.joined(separator: ", "))")
                + (onlyLive.isEmpty ? "" : "; only in the cluster: \(onlyLive.joined(separator: ", "))")
        }
        // The nodes both have must be the same nodes.
        for entry in live.nodes {
            guard let node = spec[entry.name] else { continue }
            if node.nodeID != entry.nodeID.rawValue || node.addresses != entry.addresses {
                throw BootstrapError(
                    "\(entry.name) is node \(entry.nodeID) at \(entry.addresses.joined(separator: ",")) in the running cluster but node \(node.nodeID) at \(node.addresses.joined(separator: ",")) in the spec")
            }
        }
        switch kind {
        case .add:
            if liveNames.contains(name) {
                throw BootstrapError("\(name) is already in the cluster (\(live.nodes.map(\.name).joined(separator: ", ")))")
            }
            if let problem = differs(liveNames.union([name])) { throw BootstrapError(problem) }
            let new = spec[name]!
            if let other = live.nodes.first(where: { $0.nodeID.rawValue == new.nodeID }) {
                throw BootstrapError("node id \(new.nodeID) of \(name) is \(other.name)'s in the running cluster")
            }
            if let other = live.nodes.first(where: { !Set($0.addresses).isDisjoint(with: new.addresses) }) {
                throw BootstrapError("\(name)'s address \(Set(other.addresses).intersection(new.addresses).sorted().joined(separator: ", ")) is \(other.name)'s")
            }
            guard localName != name else { throw BootstrapError("corosync already runs on \(name), the node to add; a new node starts without a cluster") }
            return .member
        case .replace:
            guard liveNames.contains(name) else { throw BootstrapError("\(name) is not in the running cluster; node add adds a new node") }
            if let problem = differs(liveNames) { throw BootstrapError(problem.replacingOccurrences(of: "by more than adding", with: "while replacing")) }
            throw BootstrapError("corosync runs on this node; node replace runs on the rebuilt \(name) only (nothing changes on the others)")
        case .remove:
            guard liveNames.contains(name) else { throw BootstrapError("\(name) is not in the cluster (\(live.nodes.map(\.name).joined(separator: ", ")))") }
            if let problem = differs(liveNames.subtracting([name])) { throw BootstrapError(problem) }
            if localName == name { return .leaving }
            if let leaving = live.nodes.first(where: { $0.name == name }), live.members.contains(leaving.nodeID) {
                throw BootstrapError(
                    "\(name) is still a member of the cluster: run `khactl node remove \(name)` on \(name) too (it leaves first), or power it off")
            }
            let staying = cluster.nodes.filter { live.members.contains(NodeID($0.nodeID)) }
            // Without two_node, the stayers must hold a majority of the old votes to reconfigure.
            if !live.twoNode, staying.count * 2 <= live.nodes.count {
                throw BootstrapError(
                    "only \(staying.count) of \(live.nodes.count) nodes are members: not a majority, so the cluster is not quorate and cannot be changed safely")
            }
            return .member
        }
    }

    /// What a run did.
    package struct Report: Sendable {
        package var role: Role
        package var steps: [String]
        package var bootstrap: Bootstrap.Report?
    }

    /// This node's role, from the local corosync if it runs; throws when the change does not fit the cluster.
    package func check() throws -> Role {
        guard Bootstrap.running("corosync") else { return try role(live: nil) }
        do {
            return try role(live: try LiveMembership.read())
        } catch let error as BootstrapError {
            throw error
        } catch {
            throw BootstrapError("cannot read corosync's nodelist: \(error)")
        }
    }

    /// Runs this node's part.
    package func run() async throws -> Report {
        let role = try check()
        var options = self.options
        switch role {
        case .leaving:
            return Report(role: role, steps: try await leave(), bootstrap: nil)
        case .joining:
            if kind == .replace {
                for path in [options.paths.cib] where FileManager.default.fileExists(atPath: path) {
                    throw BootstrapError("\(path) exists: node replace is for a rebuilt node without pacemaker state (remove it if this node is to start anew)")
                }
            }
            options.prune = false
            let report = try await Bootstrap(deployment: deployment, options: options).run()
            return Report(role: role, steps: report.changed, bootstrap: report)
        case .member:
            options.reload = true
            options.prune = true
            let removing = kind == .remove ? name : nil
            let say = options.progress
            let timeout = options.timeout
            options.beforeApply = { reloadedHere in
                // One node tells pacemaker to forget the removed node: the one that reloaded corosync.
                guard let removing, reloadedHere else { return }
                let runner = SubprocessRunner()
                func known() async throws -> Bool {
                    let list = try await runner.run(Command("crm_node", ["--list"], timeout: .seconds(30)))
                    return list.standardOutput.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == removing }
                }
                guard try await known() else { return }
                // A dead node is forgotten once it is fenced: a fencing that ends after the removal would bring its
                // node entry and status back.
                let deadline = ContinuousClock.now + timeout
                while let status = try? await ClusterOperations().status(), status.nodes.contains(where: { $0.name == removing && $0.unclean }) {
                    guard ContinuousClock.now < deadline else {
                        throw BootstrapError(
                            "\(removing) is UNCLEAN: pacemaker has not fenced it within \(timeout); fix its fence device, or, once you know it is off, "
                                + "confirm it with `stonith_admin --confirm \(removing)`, then run node remove again")
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
                // A peer's controller can still report the node (as lost) for a moment after the purge, bringing it
                // back: remove again until it has stayed gone for 5 s.
                var goneSince: ContinuousClock.Instant?
                while goneSince.map({ ContinuousClock.now - $0 < .seconds(5) }) ?? true {
                    guard ContinuousClock.now < deadline else {
                        throw BootstrapError("pacemaker still lists \(removing) after crm_node --force --remove within \(timeout)")
                    }
                    if try await known() {
                        goneSince = nil
                        do {
                            try await runner.check(Command("crm_node", ["--force", "--remove", removing], timeout: .seconds(60)))
                        } catch {
                            throw BootstrapError("crm_node --force --remove \(removing): \(error)")
                        }
                    } else if goneSince == nil {
                        goneSince = ContinuousClock.now
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
                say("bootstrap: pacemaker forgot \(removing) (crm_node --force --remove: its node entry and status)")
            }
            let report = try await Bootstrap(deployment: deployment, options: options).run()
            return Report(role: role, steps: report.changed, bootstrap: report)
        }
    }

    /// The leaving node: stop pacemaker (its resources move away first), then corosync; put corosync.conf aside
    /// so the node does not rejoin when it boots.
    private func leave() async throws -> [String] {
        var steps: [String] = []
        let runner = SubprocessRunner()
        let say = options.progress
        if Bootstrap.systemdRuns {
            try await runner.check(Command("systemctl", ["disable", "--now", "pacemaker"], timeout: .seconds(300)))
            try await runner.check(Command("systemctl", ["disable", "--now", "corosync"], timeout: .seconds(120)))
            steps.append("stop and disable pacemaker and corosync (systemd)")
        } else {
            if Bootstrap.running("pacemakerd") {
                // pacemakerd stops its resources (they move to the other nodes) and its daemons on SIGTERM.
                for pid in Bootstrap.rootProcesses(named: "pacemakerd") { kill(pid, SIGTERM) }
                let deadline = ContinuousClock.now + options.timeout
                while Bootstrap.running("pacemakerd") {
                    guard ContinuousClock.now < deadline else { throw BootstrapError("pacemakerd did not stop within \(options.timeout)") }
                    try await Task.sleep(for: .milliseconds(200))
                }
                steps.append("stop pacemaker (its resources moved to the other nodes)")
            }
            if Bootstrap.running("corosync") {
                try await runner.check(Command("corosync-cfgtool", ["-H"], timeout: .seconds(60)))
                let deadline = ContinuousClock.now + .seconds(30)
                while Bootstrap.running("corosync") && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                steps.append("stop corosync (corosync-cfgtool -H)")
            }
        }
        let config = options.paths.corosyncConfig
        if FileManager.default.fileExists(atPath: config) {
            let aside = config + ".removed"
            try? FileManager.default.removeItem(atPath: aside)
            guard rename(config, aside) == 0 else { throw BootstrapError("cannot move \(config) aside: \(String(cString: strerror(errno)))") }
            steps.append("move \(config) to \(aside) (the node does not rejoin when it boots)")
        }
        for step in steps { say("node remove: \(step)") }
        return steps
    }
}
