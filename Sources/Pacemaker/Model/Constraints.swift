/// How strongly an order constraint binds (`kind`).
public enum OrderKind: String, Hashable, Sendable, CaseIterable {
    /// `then` never starts unless `first` is started (the default).
    case mandatory = "Mandatory"
    /// Only applies when both actions happen in the same transition.
    case optional = "Optional"
    /// The two actions never run at the same time.
    case serialize = "Serialize"
}

/// A `<resource_set>` inside an order, colocation, location or ticket constraint.
public struct ResourceSet: Hashable, Sendable {
    /// The XML id; `nil` until assigned.
    public var id: String?
    /// The referenced resource ids, in order.
    public var resources: [String]
    /// Any other XML attributes of the set (`sequential`, `require-all`, `ordered`, `action`, `role`, `kind`,
    /// `score`), in order.
    public var options: [NVPair]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a set.
    public init(id: String? = nil, resources: [String], options: [NVPair] = [], verbatim: OpaqueXML? = nil) {
        self.id = id
        self.resources = resources
        self.options = options
        self.verbatim = verbatim
    }

    /// The value of the set option `name`.
    public func option(_ name: String) -> String? { options.first { $0.name == name }?.value }
}

/// An `<rsc_order>`: start (or another action of) `then` after `first`.
public struct OrderConstraint: Hashable, Sendable {
    /// The constraint id; `nil` until assigned (`order-<first>-<then>-<kind>`).
    public var id: String?
    /// The resource acted on first (absent when `sets` is used).
    public var first: String?
    /// The resource acted on second.
    public var then: String?
    /// The action of `first` (`start`, `stop`, `promote`, `demote`).
    public var firstAction: String?
    /// The action of `then`.
    public var thenAction: String?
    /// The kind; `nil` means Mandatory.
    public var kind: OrderKind?
    /// Whether the reverse order applies to stopping; `nil` means the default (true, except Serialize).
    public var symmetrical: String?
    /// The deprecated `score` attribute, kept when read.
    public var score: String?
    /// Resource sets (instead of `first`/`then`).
    public var sets: [ResourceSet]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates an order constraint.
    public init(
        id: String? = nil, first: String? = nil, then: String? = nil, firstAction: String? = nil,
        thenAction: String? = nil, kind: OrderKind? = nil, symmetrical: String? = nil, score: String? = nil,
        sets: [ResourceSet] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.first = first
        self.then = then
        self.firstAction = firstAction
        self.thenAction = thenAction
        self.kind = kind
        self.symmetrical = symmetrical
        self.score = score
        self.sets = sets
        self.verbatim = verbatim
    }

    /// Whether this order binds (`kind` Mandatory, or a deprecated positive score), so it takes part in cycles.
    public var isMandatory: Bool {
        if let kind { return kind == .mandatory }
        if let score, let n = Int(score) { return n > 0 }
        return true
    }
}

/// An `<rsc_colocation>`: place `resource` relative to `with`.
public struct ColocationConstraint: Hashable, Sendable {
    /// The constraint id; `nil` until assigned (`colocation-<rsc>-<with>-<score>`).
    public var id: String?
    /// The dependent resource (`rsc`).
    public var resource: String?
    /// The resource it is placed with (`with-rsc`).
    public var with: String?
    /// The score; pcs writes INFINITY when none is given.
    public var score: String?
    /// The role of `resource` (`rsc-role`).
    public var resourceRole: String?
    /// The role of `with` (`with-rsc-role`).
    public var withRole: String?
    /// Any other XML attributes (`node-attribute`, `influence`, ...), in order.
    public var otherAttributes: [NVPair]
    /// Resource sets (instead of `resource`/`with`).
    public var sets: [ResourceSet]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a colocation constraint.
    public init(
        id: String? = nil, resource: String? = nil, with: String? = nil, score: String? = nil,
        resourceRole: String? = nil, withRole: String? = nil, otherAttributes: [NVPair] = [],
        sets: [ResourceSet] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.resource = resource
        self.with = with
        self.score = score
        self.resourceRole = resourceRole
        self.withRole = withRole
        self.otherAttributes = otherAttributes
        self.sets = sets
        self.verbatim = verbatim
    }
}

/// One `<expression>` of a rule: `attribute operation value`.
public struct RuleExpression: Hashable, Sendable {
    /// The XML id; `nil` until assigned.
    public var id: String?
    /// The node attribute (`#uname`, `#id`, `rack`, ...).
    public var attribute: String
    /// `lt`, `gt`, `lte`, `gte`, `eq`, `ne`, `defined`, `not_defined`.
    public var operation: String
    /// The value compared with; absent for `defined`/`not_defined`.
    public var value: String?
    /// Any other XML attributes (`type`, `value-source`), in order.
    public var otherAttributes: [NVPair]

    /// Creates an expression.
    public init(id: String? = nil, attribute: String, operation: String, value: String?, otherAttributes: [NVPair] = [])
    {
        self.id = id
        self.attribute = attribute
        self.operation = operation
        self.value = value
        self.otherAttributes = otherAttributes
    }
}

/// A `<rule>` of a location constraint. Rules with date expressions or nested rules are kept verbatim.
public struct Rule: Hashable, Sendable {
    /// The XML id; `nil` until assigned.
    public var id: String?
    /// The score applied when the rule matches (or `score-attribute` in `otherAttributes`).
    public var score: String?
    /// `and` (default) or `or`.
    public var booleanOp: String?
    /// Any other XML attributes (`role`, `score-attribute`), in order.
    public var otherAttributes: [NVPair]
    /// The expressions.
    public var expressions: [RuleExpression]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a rule.
    public init(
        id: String? = nil, score: String? = nil, booleanOp: String? = nil, otherAttributes: [NVPair] = [],
        expressions: [RuleExpression], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.score = score
        self.booleanOp = booleanOp
        self.otherAttributes = otherAttributes
        self.expressions = expressions
        self.verbatim = verbatim
    }
}

/// An `<rsc_location>`: prefer (or avoid) a node, or apply rules.
public struct LocationConstraint: Hashable, Sendable {
    /// The constraint id; `nil` until assigned (`location-<rsc>-<node>-<score>`, or `location-<rsc>` with rules).
    public var id: String?
    /// The resource (`rsc`).
    public var resource: String?
    /// A regular expression over resource ids (`rsc-pattern`), instead of `resource`.
    public var resourcePattern: String?
    /// The node.
    public var node: String?
    /// The score on that node.
    public var score: String?
    /// Any other XML attributes (`role`, `resource-discovery`), in order.
    public var otherAttributes: [NVPair]
    /// Rules (instead of `node` and `score`).
    public var rules: [Rule]
    /// Resource sets (instead of `resource`).
    public var sets: [ResourceSet]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a location constraint.
    public init(
        id: String? = nil, resource: String? = nil, resourcePattern: String? = nil, node: String? = nil,
        score: String? = nil, otherAttributes: [NVPair] = [], rules: [Rule] = [], sets: [ResourceSet] = [],
        verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.resource = resource
        self.resourcePattern = resourcePattern
        self.node = node
        self.score = score
        self.otherAttributes = otherAttributes
        self.rules = rules
        self.sets = sets
        self.verbatim = verbatim
    }
}

/// One element of `<constraints>`.
public enum Constraint: Hashable, Sendable {
    /// `rsc_order`.
    case order(OrderConstraint)
    /// `rsc_colocation`.
    case colocation(ColocationConstraint)
    /// `rsc_location`.
    case location(LocationConstraint)
    /// Anything else (`rsc_ticket`, ...), kept verbatim.
    case opaque(OpaqueXML)

    /// The constraint id.
    public var id: String? {
        switch self {
        case .order(let c): c.id
        case .colocation(let c): c.id
        case .location(let c): c.id
        case .opaque(let o): o.id
        }
    }

    /// The element name in the CIB.
    public var elementName: String {
        switch self {
        case .order: "rsc_order"
        case .colocation: "rsc_colocation"
        case .location: "rsc_location"
        case .opaque(let o): o.name
        }
    }
}
