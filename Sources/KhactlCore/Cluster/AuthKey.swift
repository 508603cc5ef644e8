import ClusterExec
import Foundation

/// corosync's shared secret (`/etc/corosync/authkey`): random bytes every node of a cluster shares, from
/// which knet derives its encryption and authentication keys.
package struct AuthKey: Sendable {
    /// corosync accepts keys of 1024 to 4096 bits.
    package static let sizes = 128...512
    /// The size corosync-keygen writes by default (2048 bits).
    package static let defaultSize = 256

    /// The key's bytes.
    package let bytes: [UInt8]

    /// A new key of `size` random bytes from the system's random source.
    package static func generate(size: Int = defaultSize) throws -> AuthKey {
        guard sizes.contains(size) else { throw AuthKeyError.badSize(path: nil, size: size) }
        var generator = SystemRandomNumberGenerator()
        return AuthKey(bytes: (0..<size).map { _ in generator.next() })
    }

    /// Reads and checks a key file (size within corosync's limits).
    package static func read(_ path: String) throws -> AuthKey {
        guard let data = FileManager.default.contents(atPath: path) else { throw AuthKeyError.unreadable(path: path) }
        guard sizes.contains(data.count) else { throw AuthKeyError.badSize(path: path, size: data.count) }
        return AuthKey(bytes: Array(data))
    }

    /// Writes the key to `path` atomically, mode 0400: a temporary file created 0400 in the same folder,
    /// written, synced and renamed over `path`, so no reader ever sees a partial or world-readable key.
    package func write(to path: String, replacing: Bool = false) throws {
        if !replacing && FileManager.default.fileExists(atPath: path) { throw AuthKeyError.exists(path: path) }
        do {
            try SecureFile.write(path, Data(bytes), mode: 0o400)
        } catch let error as SecureFileError {
            throw AuthKeyError.unwritable(path: path, reason: error.reason)
        }
    }

}

/// A key that cannot be made, read or written. Never includes the key's bytes.
package enum AuthKeyError: Error, Hashable, Sendable, CustomStringConvertible {
    case badSize(path: String?, size: Int)
    case unreadable(path: String)
    case exists(path: String)
    case unwritable(path: String, reason: String)

    package var description: String {
        switch self {
        case .badSize(let path, let size):
            "\(path.map { "authkey \($0)" } ?? "authkey size") is \(size) bytes; corosync needs \(AuthKey.sizes.lowerBound) to \(AuthKey.sizes.upperBound) bytes (1024 to 4096 bits)"
        case .unreadable(let path):
            "cannot read authkey \(path)"
        case .exists(let path):
            "\(path) exists; pass --force to replace it (every node must then get the new key)"
        case .unwritable(let path, let reason):
            "cannot write authkey \(path): \(reason)"
        }
    }
}
