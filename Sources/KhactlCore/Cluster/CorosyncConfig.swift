/// A corosync 3 configuration (knet, crypto on, votequorum), rendered deterministically: the same value
/// always gives the same bytes, so every node of a cluster gets an identical corosync.conf.
package struct CorosyncConfig: Hashable, Sendable {
    /// A node of the nodelist.
    package struct Node: Hashable, Sendable {
        /// `name`.
        package var name: String
        /// `nodeid`, 1 or more.
        package var nodeID: UInt32
        /// `ring0_addr`, `ring1_addr`, ...
        package var addresses: [String]

        /// Creates a node.
        package init(name: String, nodeID: UInt32, addresses: [String]) {
            self.name = name
            self.nodeID = nodeID
            self.addresses = addresses
        }
    }

    /// A quorum device: corosync-qdevice on every node, voting as corosync-qnetd on a witness host decides.
    package struct QuorumDevice: Hashable, Sendable {
        /// qnetd's split-brain algorithms for the `net` model.
        package enum Algorithm: String, Hashable, Sendable {
            /// The partition with more nodes (then the one with the lowest node id, or the qnetd's tie-breaker) gets
            /// the vote; for clusters with an even number of nodes.
            case ffsplit
            /// Last man standing: the partition that still reaches qnetd survives, even one node.
            case lms
        }

        /// The witness's address or name.
        package var host: String
        package var algorithm: Algorithm = .ffsplit
        /// corosync-qnetd's port.
        package var port: UInt16 = 5403
        /// `quorum.device.timeout` (ms): how often qdevice polls votequorum; the net model's heartbeat to qnetd is
        /// 0.8 of it, so it is also how long qnetd takes to see that a node's qdevice is gone and give the vote to
        /// the other side. corosync's default, 10000, makes a pair's failover wait about 8 s for the vote.
        package var timeout = 3000
        /// `quorum.device.sync_timeout` (ms): the same during a membership change (corosync's default 30000).
        package var syncTimeout = 3000

        /// Creates a device.
        package init(host: String, algorithm: Algorithm = .ffsplit, port: UInt16 = 5403) {
            self.host = host
            self.algorithm = algorithm
            self.port = port
        }
    }

    /// `totem.cluster_name`.
    package var clusterName: String
    /// The nodelist, in nodeid order when rendered.
    package var nodes: [Node]
    /// `totem.token` in milliseconds.
    package var token: Int
    /// `totem.consensus` in milliseconds (corosync's default is 1.2 × token).
    package var consensus: Int?
    /// `totem.token_coefficient`: corosync adds this much token per node beyond two (default 650 ms);
    /// khactl sets 0 so that the token it documents is the token in force.
    package var tokenCoefficient: Int
    /// knet's link heartbeat, for every link. nil leaves corosync's default (timeout token / 2, interval
    /// token / 4), which declares a link dead, and drops what is sent on it, after half a token without a pong.
    package var knetHeartbeat: KnetHeartbeat?

    /// `knet_ping_interval` and `knet_ping_timeout` of a link's `interface` block, in ms.
    package struct KnetHeartbeat: Hashable, Sendable {
        package var interval: Int
        package var timeout: Int
        package init(interval: Int, timeout: Int) {
            self.interval = interval
            self.timeout = timeout
        }
    }
    /// `totem.crypto_cipher`.
    package var cipher = "aes256"
    /// `totem.crypto_hash`.
    package var hash = "sha256"
    /// `totem.keyfile`, when not the default /etc/corosync/authkey.
    package var keyFile: String?
    /// `logging.logfile`.
    package var logFile = "/var/log/corosync/corosync.log"
    /// `quorum.device`, if any.
    package var quorumDevice: QuorumDevice?

    /// Creates a configuration.
    package init(
        clusterName: String, nodes: [Node], token: Int = 1000, consensus: Int? = nil, tokenCoefficient: Int = 0,
        quorumDevice: QuorumDevice? = nil, knetHeartbeat: KnetHeartbeat? = nil
    ) {
        self.clusterName = clusterName
        self.nodes = nodes
        self.token = token
        self.consensus = consensus
        self.tokenCoefficient = tokenCoefficient
        self.quorumDevice = quorumDevice
        self.knetHeartbeat = knetHeartbeat
    }

    /// `quorum.two_node`: set for pairs without a quorum device, so one node keeps quorum when its peer dies
    /// (fencing decides who survives a split; `wait_for_all`, implied by two_node, keeps a lone rebooted node
    /// from starting resources until it has seen its peer once). With a quorum device the witness's vote
    /// decides instead.
    package var twoNode: Bool { nodes.count == 2 && quorumDevice == nil }

    /// The corosync.conf text.
    package func render() -> String {
        var lines: [String] = ["# Written by khactl. Changes are overwritten on the next bootstrap.", "totem {"]
        lines.append("    version: 2")
        lines.append("    cluster_name: \(clusterName)")
        lines.append("    transport: knet")
        lines.append("    crypto_cipher: \(cipher)")
        lines.append("    crypto_hash: \(hash)")
        if let keyFile { lines.append("    keyfile: \(keyFile)") }
        lines.append("    token: \(token)")
        if let consensus { lines.append("    consensus: \(consensus)") }
        lines.append("    token_coefficient: \(tokenCoefficient)")
        if let knetHeartbeat {
            let links = nodes.map(\.addresses.count).max() ?? 1
            for link in 0..<max(links, 1) {
                lines += [
                    "    interface {", "        linknumber: \(link)", "        knet_ping_interval: \(knetHeartbeat.interval)",
                    "        knet_ping_timeout: \(knetHeartbeat.timeout)", "    }",
                ]
            }
        }
        lines.append("}")
        lines.append("")
        lines.append("nodelist {")
        for node in nodes.sorted(by: { $0.nodeID < $1.nodeID }) {
            lines.append("    node {")
            lines.append("        name: \(node.name)")
            lines.append("        nodeid: \(node.nodeID)")
            for (link, address) in node.addresses.enumerated() {
                lines.append("        ring\(link)_addr: \(address)")
            }
            lines.append("    }")
        }
        lines.append("}")
        lines.append("")
        lines.append("quorum {")
        lines.append("    provider: corosync_votequorum")
        if twoNode { lines.append("    two_node: 1") }
        if let device = quorumDevice {
            lines.append("    device {")
            lines.append("        model: net")
            // ffsplit needs the device's vote to be 1; lms wants corosync's default (nodes - 1).
            if device.algorithm == .ffsplit { lines.append("        votes: 1") }
            lines.append("        timeout: \(device.timeout)")
            lines.append("        sync_timeout: \(device.syncTimeout)")
            lines.append("        net {")
            lines.append("            host: \(device.host)")
            lines.append("            port: \(device.port)")
            lines.append("            algorithm: \(device.algorithm.rawValue)")
            lines.append("            tls: on")
            lines.append("        }")
            lines.append("    }")
        }
        lines.append("}")
        lines.append("")
        lines.append("logging {")
        lines.append("    to_logfile: yes")
        lines.append("    logfile: \(logFile)")
        lines.append("    to_syslog: no")
        lines.append("    timestamp: hires")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
