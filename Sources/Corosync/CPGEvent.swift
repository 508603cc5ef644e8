/// A process in a CPG group: the node it runs on and its process id there.
public struct CPGMember: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The node the process runs on.
    public let nodeID: NodeID
    /// The process id on that node.
    public let pid: UInt32

    /// Creates a member.
    public init(nodeID: NodeID, pid: UInt32) {
        self.nodeID = nodeID
        self.pid = pid
    }

    /// `nodeID:pid`.
    public var description: String { "\(nodeID):\(pid)" }
}

/// Why a process joined or left a CPG group.
public enum CPGReason: Hashable, Sendable, CustomStringConvertible {
    /// The process called join.
    case join
    /// The process called leave.
    case leave
    /// The process's node left the cluster membership.
    case nodeDown
    /// The process's node joined the cluster membership.
    case nodeUp
    /// The process ended (or its connection to corosync closed) without leaving.
    case processDown
    /// No reason given (corosync's `CPG_REASON_UNDEFINED`).
    case undefined
    /// A code this binding does not know yet.
    case unknown(UInt32)

    /// Maps corosync's `cpg_reason_t`.
    public init(rawValue: UInt32) {
        switch rawValue {
        case 0: self = .undefined
        case 1: self = .join
        case 2: self = .leave
        case 3: self = .nodeDown
        case 4: self = .nodeUp
        case 5: self = .processDown
        default: self = .unknown(rawValue)
        }
    }

    /// `join`, `leave`, `node down`, `node up`, `process down`, ...
    public var description: String {
        switch self {
        case .join: "join"
        case .leave: "leave"
        case .nodeDown: "node down"
        case .nodeUp: "node up"
        case .processDown: "process down"
        case .undefined: "undefined"
        case .unknown(let code): "unknown(\(code))"
        }
    }
}

/// A member that joined or left, with the reason.
public struct CPGMemberChange: Hashable, Sendable {
    /// The process.
    public let member: CPGMember
    /// Why it joined or left.
    public let reason: CPGReason

    /// Creates a change.
    public init(member: CPGMember, reason: CPGReason) {
        self.member = member
        self.reason = reason
    }
}

/// A CPG configuration change: the group's members after the change, and who joined and left.
public struct CPGConfigurationChange: Hashable, Sendable {
    /// The group.
    public let group: String
    /// Every member after the change.
    public let members: [CPGMember]
    /// Members that joined.
    public let joined: [CPGMemberChange]
    /// Members that left.
    public let left: [CPGMemberChange]

    /// Creates a configuration change.
    public init(group: String, members: [CPGMember], joined: [CPGMemberChange], left: [CPGMemberChange]) {
        self.group = group
        self.members = members
        self.joined = joined
        self.left = left
    }
}

/// A totem ring change: a new cluster membership formed.
public struct TotemRingChange: Hashable, Sendable {
    /// The new ring.
    public let ringID: RingID
    /// The nodes in the new ring.
    public let members: [NodeID]

    /// Creates a ring change.
    public init(ringID: RingID, members: [NodeID]) {
        self.ringID = ringID
        self.members = members
    }
}

/// A message delivered to the group, in agreed order: every member sees the same sequence.
public struct CPGMessage: Hashable, Sendable {
    /// The group.
    public let group: String
    /// The process that sent it.
    public let sender: CPGMember
    /// The payload.
    public let bytes: [UInt8]

    /// Creates a message.
    public init(group: String, sender: CPGMember, bytes: [UInt8]) {
        self.group = group
        self.sender = sender
        self.bytes = bytes
    }
}

/// What a CPG handle delivers, in the order corosync delivers it.
///
/// Messages and configuration changes share one stream because their relative order is the point of
/// CPG's virtual synchrony: every member sees the same messages between the same configuration changes.
public enum CPGEvent: Hashable, Sendable {
    /// The group's membership changed.
    case configurationChange(CPGConfigurationChange)
    /// A new totem ring (cluster membership) formed.
    case totemChange(TotemRingChange)
    /// A message was delivered.
    case message(CPGMessage)
}

/// A group and its members, as `corosync-cpgtool` lists them.
public struct CPGGroupMembership: Hashable, Sendable {
    /// The group's name.
    public let group: String
    /// Its members.
    public let members: [CPGMember]

    /// Creates a listing entry.
    public init(group: String, members: [CPGMember]) {
        self.group = group
        self.members = members
    }
}

/// A CPG group name was refused before it reached corosync.
public enum CPGGroupNameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name is empty.
    case empty
    /// The name is longer than corosync's 127-byte limit.
    case tooLong(name: String, bytes: Int)
    /// The name contains a NUL byte, which corosync's tools cannot display.
    case containsNUL

    /// A sentence naming the problem and the limit.
    public var description: String {
        switch self {
        case .empty:
            "invalid CPG group name: the name is empty"
        case .tooLong(let name, let bytes):
            "invalid CPG group name \"\(name.prefix(32))...\": \(bytes) bytes, at most \(CPGGroupName.maximumLength)"
        case .containsNUL:
            "invalid CPG group name: contains a NUL byte"
        }
    }
}

/// A validated CPG group name: 1 to 127 bytes of UTF-8 without NUL.
public struct CPGGroupName: Hashable, Sendable, CustomStringConvertible {
    /// The longest name corosync accepts, in bytes (`CPG_MAX_NAME_LENGTH` less the terminator).
    public static let maximumLength = 127

    /// The name.
    public let value: String

    /// Validates `value`.
    public init(_ value: String) throws(CPGGroupNameError) {
        let bytes = value.utf8.count
        if bytes == 0 { throw .empty }
        if bytes > Self.maximumLength { throw .tooLong(name: value, bytes: bytes) }
        if value.utf8.contains(0) { throw .containsNUL }
        self.value = value
    }

    /// The name.
    public var description: String { value }
}
