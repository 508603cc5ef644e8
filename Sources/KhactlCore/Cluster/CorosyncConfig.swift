/// A corosync 3 configuration (knet, crypto on, votequorum), rendered deterministically: the same value
/// always gives the same bytes, so every node of a cluster gets an identical corosync.conf.
public struct CorosyncConfig: Hashable, Sendable {
    /// A node of the nodelist.
    public struct Node: Hashable, Sendable {
        /// `name`.
        public var name: String
        /// `nodeid`, 1 or more.
        public var nodeID: UInt32
        /// `ring0_addr`, `ring1_addr`, ...
        public var addresses: [String]

        /// Creates a node.
        public init(name: String, nodeID: UInt32, addresses: [String]) {
            self.name = name
            self.nodeID = nodeID
            self.addresses = addresses
        }
    }

    /// `totem.cluster_name`.
    public var clusterName: String
    /// The nodelist, in nodeid order when rendered.
    public var nodes: [Node]
    /// `totem.token` in milliseconds.
    public var token: Int
    /// `totem.consensus` in milliseconds (corosync's default is 1.2 × token).
    public var consensus: Int?
    /// `totem.token_coefficient`: corosync adds this much token per node beyond two (default 650 ms);
    /// khactl sets 0 so that the token it documents is the token in force.
    public var tokenCoefficient: Int
    /// `totem.crypto_cipher`.
    public var cipher = "aes256"
    /// `totem.crypto_hash`.
    public var hash = "sha256"
    /// `totem.keyfile`, when not the default /etc/corosync/authkey.
    public var keyFile: String?
    /// `logging.logfile`.
    public var logFile = "/var/log/corosync/corosync.log"

    /// Creates a configuration.
    public init(clusterName: String, nodes: [Node], token: Int = 1000, consensus: Int? = nil, tokenCoefficient: Int = 0) {
        self.clusterName = clusterName
        self.nodes = nodes
        self.token = token
        self.consensus = consensus
        self.tokenCoefficient = tokenCoefficient
    }

    /// `quorum.two_node`: set for pairs, so one node keeps quorum when its peer dies (fencing decides who
    /// survives a split; `wait_for_all`, implied by two_node, keeps a lone rebooted node from starting
    /// resources until it has seen its peer once).
    public var twoNode: Bool { nodes.count == 2 }

    /// The corosync.conf text.
    public func render() -> String {
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
