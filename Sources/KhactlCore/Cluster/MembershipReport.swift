import Corosync

/// What `khactl members` shows: this node, quorum, votes, the members with names and addresses,
/// and the CPG groups.
package struct MembershipReport: Hashable, Sendable {
    /// A node in the current membership.
    package struct Member: Hashable, Sendable {
        /// The node id.
        package let nodeID: NodeID
        /// The name from the nodelist (or the id when corosync.conf names none).
        package let name: String
        /// The node's link addresses from the nodelist.
        package let addresses: [String]
        /// Votes, from votequorum.
        package let votes: UInt32?
        /// Whether this is the node khactl runs on.
        package let isLocal: Bool
    }

    /// The node khactl runs on.
    package let localNodeID: NodeID
    /// Whether the partition is quorate.
    package let quorate: Bool
    /// The current ring.
    package let ringID: RingID
    /// Votequorum's figures for the local node and the cluster, when votequorum is the provider.
    package let votes: VotequorumInfo?
    /// The nodes in the current membership, ordered by id.
    package let members: [Member]
    /// Configured nodes that are not in the membership.
    package let absent: [NodeListEntry]
    /// CPG groups and their members.
    package let groups: [CPGGroupMembership]

    /// Reads everything from the corosync at `endpoint`.
    package static func read(from endpoint: CorosyncEndpoint) async throws -> MembershipReport {
        let cmap = try CMap(endpoint: endpoint)
        defer { cmap.close() }
        let cpg = try CPG(endpoint: endpoint, totemChanges: false)
        defer { cpg.close() }
        let quorum = try Quorum(endpoint: endpoint)
        defer { quorum.close() }
        let localNodeID = try cpg.localNodeID()
        let nodeList = try cmap.nodeList()
        let groups = try cpg.groups()
        let state = try await firstQuorumState(quorum)
        let votequorum = try? Votequorum(endpoint: endpoint)
        defer { votequorum?.close() }
        let localVotes = try? votequorum?.info(of: localNodeID)
        let members = state.members.sorted().map { id in
            let entry = nodeList.first { $0.nodeID == id }
            return Member(
                nodeID: id,
                name: entry?.name ?? String(id.rawValue),
                addresses: entry?.addresses ?? [],
                votes: (try? votequorum?.info(of: id))?.votes,
                isLocal: id == localNodeID
            )
        }
        return MembershipReport(
            localNodeID: localNodeID,
            quorate: state.quorate,
            ringID: state.ringID,
            votes: localVotes,
            members: members,
            absent: nodeList.filter { !state.members.contains($0.nodeID) },
            groups: groups
        )
    }

    /// The current state, which the quorum service delivers first after tracking starts.
    private static func firstQuorumState(_ quorum: Quorum) async throws -> QuorumState {
        for try await event in quorum.events {
            if case .quorum(let state) = event { return state }
        }
        throw CLIError("corosync's quorum service ended before reporting the current state")
    }

    /// The report as one JSON object.
    package var json: JSONValue {
        var object: [String: JSONValue] = [
            "localNodeID": .integer(Int64(localNodeID.rawValue)),
            "quorate": .bool(quorate),
            "ringID": .string(ringID.description),
            "members": .array(members.map { member in
                var fields: [String: JSONValue] = [
                    "nodeID": .integer(Int64(member.nodeID.rawValue)),
                    "name": .string(member.name),
                    "addresses": .array(member.addresses.map(JSONValue.string)),
                    "local": .bool(member.isLocal),
                ]
                if let votes = member.votes { fields["votes"] = .integer(Int64(votes)) }
                return .object(fields)
            }),
            "absent": .array(absent.map { node in
                [
                    "nodeID": .integer(Int64(node.nodeID.rawValue)),
                    "name": .string(node.name),
                    "addresses": .array(node.addresses.map(JSONValue.string)),
                ]
            }),
            "groups": .array(groups.map { group in
                [
                    "name": .string(group.group),
                    "members": .array(group.members.map { ["nodeID": .integer(Int64($0.nodeID.rawValue)), "pid": .integer(Int64($0.pid))] }),
                ]
            }),
        ]
        if let votes {
            object["votes"] = [
                "expected": .integer(Int64(votes.expectedVotes)),
                "highestExpected": .integer(Int64(votes.highestExpected)),
                "total": .integer(Int64(votes.totalVotes)),
                "quorum": .integer(Int64(votes.quorum)),
                "flags": .array(votes.flags.names.map(JSONValue.string)),
            ]
        }
        return .object(object)
    }

    /// The report as text, in the spirit of `corosync-quorumtool -s`.
    package var text: String {
        var lines: [String] = []
        lines.append("Local node:  \(localNodeID)")
        lines.append("Quorate:     \(quorate ? "yes" : "no")")
        lines.append("Ring ID:     \(ringID)")
        if let votes {
            lines.append(
                "Votes:       expected \(votes.expectedVotes), total \(votes.totalVotes), quorum \(votes.quorum)"
                    + (votes.flags.isEmpty ? "" : " (\(votes.flags.names.joined(separator: " ")))"))
        }
        lines.append("")
        lines.append("Members:")
        for member in members {
            let votes = member.votes.map { "  votes \($0)" } ?? ""
            let local = member.isLocal ? "  (local)" : ""
            lines.append(
                "  \(String(member.nodeID.rawValue).leftPadded(to: 4))  \(member.name)  \(member.addresses.joined(separator: ","))\(votes)\(local)")
        }
        if !absent.isEmpty {
            lines.append("")
            lines.append("Configured but not members:")
            for node in absent {
                lines.append("  \(String(node.nodeID.rawValue).leftPadded(to: 4))  \(node.name)  \(node.addresses.joined(separator: ","))")
            }
        }
        lines.append("")
        lines.append("CPG groups:")
        if groups.isEmpty { lines.append("  (none)") }
        for group in groups {
            lines.append("  \(group.group): " + group.members.map(\.description).joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
