import ClusterExec
import Corosync
import Crypto
import Foundation

/// Authenticates the alerts watchers relay to each other through their CPG group.
///
/// Any member of `haclient` may join corosync's CPG groups (pacemakerd grants the group corosync IPC access),
/// so a relayed alert is taken only when it carries an HMAC-SHA256 made with a key that only root on a cluster
/// node holds: derived from corosync's authkey (0400, root's). The code covers the sender as CPG reports it
/// (node id and pid) with the payload, so a genuine alert replayed by another member does not verify either.
package struct WatcherKey: Sendable {
    /// Where corosync keeps its authkey.
    package static let defaultAuthkey = "/etc/corosync/authkey"
    static let version: UInt8 = 1
    /// The derived key's bytes (SymmetricKey is not Sendable; one is made from them per use).
    private let bytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// What the watchers' key is for (each use derives a key of its own from the authkey).
    package static let watchers = "khactl-watch relay v1"

    /// The key for `purpose`, derived from the corosync authkey at `path` (a root-owned file, 0600 or narrower).
    package init(authkey path: String, purpose: String = WatcherKey.watchers) throws {
        let material = try SecureFile.readSecret(path)
        guard material.count >= 16 else { throw SecureFileError(path: path, reason: "is \(material.count) bytes, too short for an authkey") }
        self.init(material: material, purpose: purpose)
    }

    init(material: Data, purpose: String = WatcherKey.watchers) {
        let derived = HMAC<SHA256>.authenticationCode(for: Data(purpose.utf8), using: SymmetricKey(data: material))
        bytes = Array(derived)
    }

    /// What the code covers: the sender (node id, pid, big-endian) and the payload.
    private static func covered(_ payload: some Collection<UInt8>, sender: CPGMember) -> Data {
        var data = Data()
        withUnsafeBytes(of: sender.nodeID.rawValue.bigEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: sender.pid.bigEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: payload)
        return data
    }

    /// `payload` as `sender` sends it: a version byte, the code, the payload.
    func seal(_ payload: [UInt8], sender: CPGMember) -> [UInt8] {
        let code = HMAC<SHA256>.authenticationCode(for: Self.covered(payload, sender: sender), using: key)
        return [Self.version] + Array(code) + payload
    }

    /// The payload of a message CPG delivered from `sender`, or nil when its code does not verify.
    func open(_ message: [UInt8], sender: CPGMember) -> [UInt8]? {
        guard message.count > 33, message[0] == Self.version else { return nil }
        let payload = message[33...]
        // isValidAuthenticationCode compares in constant time.
        guard HMAC<SHA256>.isValidAuthenticationCode(Data(message[1..<33]), authenticating: Self.covered(payload, sender: sender), using: key)
        else { return nil }
        return Array(payload)
    }
}
