internal import CCorosync

/// An error returned by one of corosync's client libraries.
///
/// A thin value over corosync's `cs_error_t`. The named members cover every code corosync 3 defines;
/// a code this binding does not know survives as ``code`` and still has a description.
public struct CorosyncError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw corosync error code (`cs_error_t`).
    public let code: Int32
    /// What khactl was doing when corosync answered with this error, e.g. `cpg_join("khactl")`.
    public let operation: String

    /// Creates an error from a raw corosync code and the operation that returned it.
    public init(code: Int32, operation: String = "") {
        self.code = code
        self.operation = operation
    }

    /// The library could not reach corosync: it is not running, or not in this network namespace.
    public static let library = CorosyncError(code: 2)
    /// The library and the daemon disagree on a protocol version.
    public static let version = CorosyncError(code: 3)
    /// The handle was not initialised.
    public static let initialization = CorosyncError(code: 4)
    /// Corosync did not answer in time.
    public static let timeout = CorosyncError(code: 5)
    /// Corosync is busy (synchronising, or flow control); the call may succeed later.
    public static let tryAgain = CorosyncError(code: 6)
    /// A parameter was refused.
    public static let invalidParameter = CorosyncError(code: 7)
    /// Out of memory.
    public static let noMemory = CorosyncError(code: 8)
    /// The handle is not (or no longer) valid.
    public static let badHandle = CorosyncError(code: 9)
    /// The resource is busy.
    public static let busy = CorosyncError(code: 10)
    /// Permission denied: corosync refuses clients that are not root or in its `uidgid` lists.
    public static let access = CorosyncError(code: 11)
    /// The object (group, key, ...) does not exist.
    public static let notExist = CorosyncError(code: 12)
    /// A name is longer than corosync allows.
    public static let nameTooLong = CorosyncError(code: 13)
    /// The object already exists (for CPG: this handle already joined a group).
    public static let exist = CorosyncError(code: 14)
    /// No space left.
    public static let noSpace = CorosyncError(code: 15)
    /// The call was interrupted.
    public static let interrupt = CorosyncError(code: 16)
    /// A name was not found.
    public static let nameNotFound = CorosyncError(code: 17)
    /// Corosync ran out of a resource.
    public static let noResources = CorosyncError(code: 18)
    /// The operation is not supported (for example votequorum calls when another quorum provider runs).
    public static let notSupported = CorosyncError(code: 19)
    /// The operation is not valid in the current state.
    public static let badOperation = CorosyncError(code: 20)
    /// The operation failed.
    public static let failedOperation = CorosyncError(code: 21)
    /// A message could not be delivered.
    public static let messageError = CorosyncError(code: 22)
    /// A queue is full.
    public static let queueFull = CorosyncError(code: 23)
    /// A queue is not available.
    public static let queueNotAvailable = CorosyncError(code: 24)
    /// Invalid flags.
    public static let badFlags = CorosyncError(code: 25)
    /// The message is too big.
    public static let tooBig = CorosyncError(code: 26)
    /// No sections.
    public static let noSections = CorosyncError(code: 27)
    /// The context was not found.
    public static let contextNotFound = CorosyncError(code: 28)
    /// Too many groups.
    public static let tooManyGroups = CorosyncError(code: 30)
    /// A security check failed.
    public static let security = CorosyncError(code: 100)

    /// Two errors are equal when their codes are; the operation is context, not identity.
    public static func == (lhs: CorosyncError, rhs: CorosyncError) -> Bool { lhs.code == rhs.code }

    /// Hashes the code only, consistent with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// corosync's own text for the code (`cs_strerror`), e.g. `CS_ERR_LIBRARY`.
    public var name: String {
        // Sound: cs_strerror returns a pointer to a static string for every value, known or not.
        String(cString: cs_strerror(cs_error_t(rawValue: UInt32(bitPattern: code))))
    }

    /// A sentence an operator can act on.
    public var description: String {
        let prefix = operation.isEmpty ? "corosync" : operation
        switch code {
        case CorosyncError.library.code:
            return "\(prefix) failed: corosync is not running or not reachable (\(name)). "
                + "Check that corosync runs on this node (corosync-cfgtool -s), that this process is in "
                + "the same network namespace as corosync, and that it runs as root or a user in corosync's uidgid list."
        case CorosyncError.access.code:
            return "\(prefix) failed: corosync refused this client (\(name)). Run as root or add the user "
                + "to a uidgid section of corosync.conf."
        case CorosyncError.tryAgain.code:
            return "\(prefix) failed: corosync stayed busy after several retries (\(name)). Try again."
        case CorosyncError.nameTooLong.code:
            return "\(prefix) failed: the name is too long (\(name))."
        case CorosyncError.exist.code:
            return "\(prefix) failed: already exists (\(name))."
        case CorosyncError.notSupported.code:
            return "\(prefix) failed: not supported by the running corosync (\(name)). "
                + "Is corosync_votequorum the quorum provider?"
        default:
            return "\(prefix) failed: \(name) (code \(code))."
        }
    }

    /// The same error, naming the operation that returned it.
    func during(_ operation: String) -> CorosyncError {
        CorosyncError(code: code, operation: operation)
    }
}
