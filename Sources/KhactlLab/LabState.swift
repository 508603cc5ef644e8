import Pacemaker
import KhactlCore
import ClusterExec
import Foundation

/// A fault injected into a lab node.
package enum LabFault: String, Codable, Sendable, CaseIterable {
    /// Powered off: every process of the node is gone, its namespaces with them.
    case crash
    /// The node's link is down: the node sees no carrier.
    case partition
    /// The link stays up, but the switch no longer carries the node's traffic.
    case isolate
    /// Every process of the node is stopped with SIGSTOP.
    case freeze
}

/// What the lab keeps on disk about one node.
package struct LabNodeState: Codable, Sendable, Hashable {
    /// `nodeI`.
    package var name: String
    /// 1-based index; also the corosync node id.
    package var index: Int
    /// The node's address on the lab network.
    package var address: String
    /// `unshare` (or, for a node that boots systemd, `systemd-nspawn`), the parent of the node's init.
    package var holder: ProcessIdentity?
    /// PID 1 of the node's PID namespace (`khactl lab init`, or systemd); every namespace of the node is reached through it.
    package var initProcess: ProcessIdentity?
    /// The node's BMC.
    package var bmc: ProcessIdentity?
    /// The fault injected, if any.
    package var fault: LabFault?

    /// The switch-side end of the node's link.
    package var switchPort: String { "s\(index)" }
    /// The node's BMC address.
    package var bmcAddress: String { LabNetwork.bmcAddress(index) }
}

/// What the lab keeps on disk: enough to reach, inspect and remove everything it started.
package struct LabState: Codable, Sendable, Hashable {
    /// The lab's name.
    package var name: String
    /// corosync's token, in ms.
    package var token: Int
    /// corosync's consensus, in ms.
    package var consensus: Int
    /// The switch namespace's holder process.
    package var switchHolder: ProcessIdentity?
    /// The nodes.
    package var nodes: [LabNodeState]
    /// The witness host running corosync-qnetd (`lab up --witness`), if any: `witness`, index 0, 198.18.0.10.
    package var witness: LabNodeState?
    /// Whether the nodes boot systemd (`lab up --systemd`): systemd-nspawn containers over roots of their own.
    package var systemd: Bool?

    /// Whether the nodes boot systemd.
    package var bootsSystemd: Bool { systemd == true }
}

/// The lab network's fixed plan: everything in 198.18.0.0/24 (RFC 2544 benchmarking space), inside the
/// lab's own namespaces.
package enum LabNetwork {
    /// The prefix length of the lab network.
    package static let prefix = 24
    /// The lab client's address, in the switch namespace (where drills measure from).
    package static let client = "198.18.0.2"
    /// The default floating IP of the lab's examples.
    package static let defaultVIP = "198.18.0.100"

    /// Node I's address: 198.18.0.1I.
    package static func nodeAddress(_ index: Int) -> String { "198.18.0.\(10 + index)" }
    /// Node I's BMC address: 198.18.0.21I.
    package static func bmcAddress(_ index: Int) -> String { "198.18.0.\(210 + index)" }
}

/// A lab that cannot be created, found or changed as asked.
package struct LabError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The sentence to print.
    package let description: String

    /// Creates an error.
    package init(_ description: String) { self.description = description }
}

/// The lab's folder, its state file, and the lock that serialises every change to it.
struct LabStore: Sendable {
    let folder: URL

    var stateFile: URL { folder.appendingPathComponent("lab.json") }
    var lockFile: URL { folder.appendingPathComponent("lock") }

    func nodeFolder(_ index: Int) -> URL { folder.appendingPathComponent("node\(index)") }

    var exists: Bool { FileManager.default.fileExists(atPath: stateFile.path) }

    func load() throws -> LabState {
        guard let data = FileManager.default.contents(atPath: stateFile.path) else {
            throw LabError("no lab state at \(stateFile.path)")
        }
        do {
            return try JSONDecoder().decode(LabState.self, from: data)
        } catch {
            throw LabError("cannot read \(stateFile.path): \(error)")
        }
    }

    /// Writes the state atomically (temporary file + rename), so a killed khactl never leaves half a file.
    func save(_ state: LabState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: stateFile, options: .atomic)
    }

    /// Runs `body` holding an exclusive lock on the lab (other khactl processes, BMCs included, wait).
    func locked<T>(_ body: () async throws -> T) async throws -> T {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let fd = open(lockFile.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LabError("cannot open \(lockFile.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw LabError("cannot lock \(lockFile.path): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}
