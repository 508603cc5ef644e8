/// Where the corosync to talk to runs.
///
/// corosync's client libraries reach the daemon through abstract Unix sockets, which belong to a network
/// namespace. A process on the host can therefore talk to a corosync that runs in another network
/// namespace (a lab node, a test's private cluster) by creating the connection from inside that namespace;
/// the connection then works from any thread.
public struct CorosyncEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// The network namespace file, e.g. `/run/netns/lab-node1` or `/proc/PID/ns/net`; `nil` for this
    /// process's own namespace.
    public let networkNamespace: String?

    /// The corosync in this process's own network namespace.
    public static let local = CorosyncEndpoint(networkNamespace: nil)

    /// The corosync in the network namespace at `path`.
    public static func networkNamespace(_ path: String) -> CorosyncEndpoint {
        CorosyncEndpoint(networkNamespace: path)
    }

    /// Creates an endpoint; `nil` means this process's own network namespace.
    public init(networkNamespace: String?) {
        self.networkNamespace = networkNamespace
    }

    /// `local`, or the namespace path.
    public var description: String { networkNamespace ?? "local" }
}

/// The network namespace of an endpoint could not be entered.
public struct NamespaceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The namespace file.
    public let path: String
    /// `errno` from `open` or `setns`.
    public let errno: Int32
    /// The step that failed.
    public let step: String

    /// A sentence naming the namespace and the system error.
    public var description: String {
        "cannot enter network namespace \(path): \(step) failed: \(String(cString: strerror(errno)))"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
