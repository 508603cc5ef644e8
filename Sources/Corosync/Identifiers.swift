/// A corosync node id (`nodelist.node.X.nodeid`).
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The numeric id.
    public let rawValue: UInt32

    /// Wraps a numeric node id.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Wraps a numeric node id.
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// Orders by number.
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The decimal id.
    public var description: String { String(rawValue) }

    /// Encodes as a bare number.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// Decodes from a bare number.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt32.self)
    }
}

/// A totem ring id: the representative node and a sequence number that grows with every new membership.
public struct RingID: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The node that formed the ring.
    public let nodeID: NodeID
    /// The ring's sequence number.
    public let sequence: UInt64

    /// Creates a ring id.
    public init(nodeID: NodeID, sequence: UInt64) {
        self.nodeID = nodeID
        self.sequence = sequence
    }

    /// `nodeid.seq` in hexadecimal, as corosync-quorumtool prints it (e.g. `1.5`).
    public var description: String {
        String(nodeID.rawValue, radix: 16) + "." + String(sequence, radix: 16)
    }
}

/// Copies a C array of `count` node ids into Swift values.
func nodeIDs(_ pointer: UnsafePointer<UInt32>?, _ count: Int) -> [NodeID] {
    guard let pointer, count > 0 else { return [] }
    // Sound: corosync passes `count` valid entries that live for the duration of the callback,
    // and the copy is made before the callback returns.
    return UnsafeBufferPointer(start: pointer, count: count).map(NodeID.init(rawValue:))
}
