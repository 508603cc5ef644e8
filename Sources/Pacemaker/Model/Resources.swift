/// The standard (class) of a resource agent, `class` in the CIB.
public struct ResourceClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The class as written in the CIB.
    public var rawValue: String
    /// Creates a class from its CIB spelling; unknown classes survive as they are.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Open Cluster Framework agents: `ocf:<provider>:<type>`.
    public static let ocf = ResourceClass(rawValue: "ocf")
    /// systemd units.
    public static let systemd = ResourceClass(rawValue: "systemd")
    /// LSB init scripts.
    public static let lsb = ResourceClass(rawValue: "lsb")
    /// Whatever the init system provides (`service:<name>`).
    public static let service = ResourceClass(rawValue: "service")
    /// Fence devices.
    public static let stonith = ResourceClass(rawValue: "stonith")
    /// Classes Pacemaker 2.1 knows.
    public static let known: Set<ResourceClass> = [
        .ocf, .systemd, .lsb, .service, .stonith, .init("upstart"), .init("nagios"),
    ]
    private init(_ raw: String) { rawValue = raw }
    /// The CIB spelling.
    public var description: String { rawValue }
}

/// A resource agent: `class[:provider]:type` as pcs writes it.
public struct ResourceAgent: Hashable, Sendable, CustomStringConvertible {
    /// The standard.
    public var resourceClass: ResourceClass
    /// The provider; only OCF agents have one.
    public var provider: String?
    /// The agent name (`IPaddr2`, a unit name, an init script, a fence agent).
    public var type: String

    /// Creates an agent.
    public init(class resourceClass: ResourceClass, provider: String? = nil, type: String) {
        self.resourceClass = resourceClass
        self.provider = provider
        self.type = type
    }

    /// Parses pcs's `standard:provider:type` or `standard:type` spelling; `nil` when malformed.
    ///
    /// Like pcs, only `ocf` takes a provider. A bare name is not accepted: khactl never guesses the standard.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        switch parts.count {
        case 3 where parts[0] == "ocf":
            self.init(class: .ocf, provider: parts[1], type: parts[2])
        case 2 where parts[0] != "ocf":
            self.init(class: ResourceClass(rawValue: parts[0]), type: parts[1])
        default:
            return nil
        }
    }

    /// `class:provider:type` or `class:type`.
    public var description: String {
        if let provider { return "\(resourceClass):\(provider):\(type)" }
        return "\(resourceClass):\(type)"
    }
}

/// One `<op>` of a primitive.
public struct Operation: Hashable, Sendable {
    /// The XML id; `nil` until assigned (`<resource>-<name>-interval-<interval>`, as pcs does).
    public var id: String?
    /// The action: `monitor`, `start`, `stop`, `promote`, ...
    public var name: String
    /// How often a recurring action runs; `0s` (or `0`) for non-recurring ones.
    public var interval: String
    /// The action's timeout.
    public var timeout: String?
    /// The role the operation applies to (`Promoted`, `Unpromoted`, legacy `Master`/`Slave`).
    public var role: String?
    /// What to do on failure (`ignore`, `block`, `stop`, `restart`, `standby`, `fence`, `demote`).
    public var onFail: String?
    /// Any other XML attributes of the op (`start-delay`, `record-pending`, `enabled`, `description`, ...), in order.
    public var otherAttributes: [NVPair]
    /// The element as read, when the typed fields do not capture all of it (ops with attribute sets or rules).
    public var verbatim: OpaqueXML?

    /// Creates an operation.
    public init(
        id: String? = nil, name: String, interval: String, timeout: String? = nil, role: String? = nil,
        onFail: String? = nil, otherAttributes: [NVPair] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.name = name
        self.interval = interval
        self.timeout = timeout
        self.role = role
        self.onFail = onFail
        self.otherAttributes = otherAttributes
        self.verbatim = verbatim
    }
}

/// A `<primitive>`: one resource agent instance.
public struct Primitive: Hashable, Sendable {
    /// The resource id.
    public var id: String
    /// The agent; `nil` only for primitives read from a CIB that uses a `template` (then kept verbatim).
    public var agent: ResourceAgent?
    /// The optional description.
    public var description: String?
    /// Agent parameters (`instance_attributes`).
    public var instanceAttributes: [AttributeSet]
    /// Resource options (`meta_attributes`).
    public var metaAttributes: [AttributeSet]
    /// Utilization (`utilization`).
    public var utilization: [AttributeSet]
    /// The `id` of the `<operations>` element when it has one.
    public var operationsID: String?
    /// The operations, in order.
    public var operations: [Operation]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a primitive.
    public init(
        id: String, agent: ResourceAgent?, description: String? = nil, instanceAttributes: [AttributeSet] = [],
        metaAttributes: [AttributeSet] = [], utilization: [AttributeSet] = [], operationsID: String? = nil,
        operations: [Operation] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.agent = agent
        self.description = description
        self.instanceAttributes = instanceAttributes
        self.metaAttributes = metaAttributes
        self.utilization = utilization
        self.operationsID = operationsID
        self.operations = operations
        self.verbatim = verbatim
    }
}

/// A `<group>`: members start in order and run on the same node.
public struct Group: Hashable, Sendable {
    /// The group id.
    public var id: String
    /// The optional description.
    public var description: String?
    /// The members, in start order. The CIB allows only primitives; the validator reports anything else.
    public var members: [Resource]
    /// Group options (`meta_attributes`).
    public var metaAttributes: [AttributeSet]
    /// `instance_attributes` of the group (inherited by members).
    public var instanceAttributes: [AttributeSet]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a group.
    public init(
        id: String, description: String? = nil, members: [Resource], metaAttributes: [AttributeSet] = [],
        instanceAttributes: [AttributeSet] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.description = description
        self.members = members
        self.metaAttributes = metaAttributes
        self.instanceAttributes = instanceAttributes
        self.verbatim = verbatim
    }
}

/// A `<clone>` of a primitive or a group (promotable when its meta attribute `promotable` is true).
public struct Clone: Hashable, Sendable {
    /// The clone id (pcs names it `<child>-clone`).
    public var id: String
    /// The optional description.
    public var description: String?
    /// The cloned resource. The CIB allows a primitive or a group; the validator reports anything else.
    public var child: Resource
    /// Clone options (`interleave`, `clone-max`, `clone-node-max`, `globally-unique`, `promotable`, ...).
    public var metaAttributes: [AttributeSet]
    /// `instance_attributes` of the clone.
    public var instanceAttributes: [AttributeSet]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a clone.
    public init(
        id: String, description: String? = nil, child: Resource, metaAttributes: [AttributeSet] = [],
        instanceAttributes: [AttributeSet] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.description = description
        self.child = child
        self.metaAttributes = metaAttributes
        self.instanceAttributes = instanceAttributes
        self.verbatim = verbatim
    }

    /// Whether the clone is promotable (`promotable=true` in its meta attributes).
    public var isPromotable: Bool { CIBBoolean.isTrue(metaAttributes.value(of: "promotable")) }
}

/// A node of the resource tree under `<resources>`.
public indirect enum Resource: Hashable, Sendable {
    /// A primitive.
    case primitive(Primitive)
    /// A group.
    case group(Group)
    /// A clone.
    case clone(Clone)
    /// An element the model does not type (`bundle`, `master`, `template`), kept verbatim.
    case opaque(OpaqueXML)

    /// The id of this resource (`nil` for an opaque element without one).
    public var id: String? {
        switch self {
        case .primitive(let p): p.id
        case .group(let g): g.id
        case .clone(let c): c.id
        case .opaque(let o): o.id
        }
    }

    /// The element name in the CIB.
    public var elementName: String {
        switch self {
        case .primitive: "primitive"
        case .group: "group"
        case .clone: "clone"
        case .opaque(let o): o.name
        }
    }

    /// This resource and every resource inside it, depth first, parents before children.
    public var flattened: [Resource] {
        switch self {
        case .primitive, .opaque: [self]
        case .group(let g): [self] + g.members.flatMap(\.flattened)
        case .clone(let c): [self] + c.child.flattened
        }
    }

    /// Every resource id this resource defines, including ids inside opaque elements.
    public var definedResourceIDs: [String] {
        flattened.flatMap { r -> [String] in
            if case .opaque(let o) = r { return o.resourceIDs }
            return r.id.map { [$0] } ?? []
        }
    }
}

/// Pacemaker's boolean spellings.
public enum CIBBoolean {
    /// Whether Pacemaker reads `value` as true (`true`, `on`, `yes`, `y`, `1`, any case).
    public static func isTrue(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["true", "on", "yes", "y", "1"].contains(value.lowercased())
    }

    /// Whether `value` is one of Pacemaker's boolean spellings.
    public static func isBoolean(_ value: String) -> Bool {
        ["true", "on", "yes", "y", "1", "false", "off", "no", "n", "0"].contains(value.lowercased())
    }
}

extension Clone {
    /// `interleave`: whether instances depend on the peer instances on the same node only (nil when unset).
    public var interleave: Bool? { metaAttributes.value(of: "interleave").map(CIBBoolean.isTrue) }
    /// `clone-max`: how many instances run in the cluster (nil when unset or not a number).
    public var cloneMax: Int? { metaAttributes.value(of: "clone-max").flatMap { Int($0) } }
    /// `clone-node-max`: how many instances may run on one node.
    public var cloneNodeMax: Int? { metaAttributes.value(of: "clone-node-max").flatMap { Int($0) } }
    /// `globally-unique`: whether each instance is distinct.
    public var globallyUnique: Bool? { metaAttributes.value(of: "globally-unique").map(CIBBoolean.isTrue) }
    /// `ordered`: whether instances start one after the other.
    public var ordered: Bool? { metaAttributes.value(of: "ordered").map(CIBBoolean.isTrue) }
    /// `notify`: whether instances are told before and after actions of the others.
    public var notify: Bool? { metaAttributes.value(of: "notify").map(CIBBoolean.isTrue) }

    /// A clone of `child` named as pcs names it (`<child>-clone`), with meta attributes in the given order.
    public init(of child: Resource, meta: KeyValuePairs<String, String> = [:]) {
        let pairs = meta.map { NVPair(name: $0.key, value: $0.value) }
        self.init(
            id: "\(child.id ?? "")-clone", child: child,
            metaAttributes: pairs.isEmpty ? [] : [AttributeSet(nvpairs: pairs)])
    }
}

extension Primitive {
    /// The value of the resource option (meta attribute) `name`, as Pacemaker reads it (first set wins).
    public func meta(_ name: String) -> String? { metaAttributes.value(of: name) }
    /// The value of the agent parameter (instance attribute) `name`.
    public func parameter(_ name: String) -> String? { instanceAttributes.value(of: name) }
}
