/// A name/value pair of the CIB (`<nvpair id name value/>`).
public struct NVPair: Hashable, Sendable {
    /// The XML id; `nil` until ids are assigned (`Configuration.assigningIDs()`).
    public var id: String?
    /// The attribute name.
    public var name: String
    /// The value; `nil` only for CIBs that carry an nvpair without a value.
    public var value: String?

    /// Creates a pair.
    public init(id: String? = nil, name: String, value: String?) {
        self.id = id
        self.name = name
        self.value = value
    }
}

/// A block of name/value pairs: `instance_attributes`, `meta_attributes`, `utilization`, `cluster_property_set`.
///
/// Which of these it is follows from where it sits in the model. Sets with rules or `id-ref` are kept verbatim.
public struct AttributeSet: Hashable, Sendable {
    /// The XML id; `nil` until ids are assigned.
    public var id: String?
    /// The optional precedence score of the set.
    public var score: String?
    /// The pairs, in document order.
    public var nvpairs: [NVPair]
    /// The element as read, when the typed fields above do not capture all of it; rendered instead of them.
    public var verbatim: OpaqueXML?

    /// Creates a set.
    public init(id: String? = nil, score: String? = nil, nvpairs: [NVPair] = [], verbatim: OpaqueXML? = nil) {
        self.id = id
        self.score = score
        self.nvpairs = nvpairs
        self.verbatim = verbatim
    }

    /// Creates an id-less set from ordered pairs (ids are assigned later with pcs's conventions).
    public init(_ pairs: KeyValuePairs<String, String>) {
        self.init(nvpairs: pairs.map { NVPair(name: $0.key, value: $0.value) })
    }

    /// The value of the first pair named `name`, as Pacemaker reads it (first one wins).
    public subscript(name: String) -> String? {
        nvpairs.first { $0.name == name }?.value
    }
}

extension Array where Element == AttributeSet {
    /// The value of `name` in the first set that defines it.
    public func value(of name: String) -> String? {
        for set in self { if let value = set[name] { return value } }
        return nil
    }

    /// Every pair of every set, in order.
    public var allPairs: [NVPair] { flatMap(\.nvpairs) }
}
