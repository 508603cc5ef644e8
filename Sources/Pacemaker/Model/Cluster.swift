/// A `<recipient>` of an alert.
public struct AlertRecipient: Hashable, Sendable {
    /// The XML id; `nil` until assigned (`<alert>-recipient`, as pcs does).
    public var id: String?
    /// What the agent is given as the recipient (a file, an address, ...).
    public var value: String
    /// The optional description.
    public var description: String?
    /// Recipient meta attributes (`timeout`, `timestamp-format`).
    public var metaAttributes: [AttributeSet]
    /// Recipient options passed to the agent (`instance_attributes`).
    public var instanceAttributes: [AttributeSet]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a recipient.
    public init(
        id: String? = nil, value: String, description: String? = nil, metaAttributes: [AttributeSet] = [],
        instanceAttributes: [AttributeSet] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.value = value
        self.description = description
        self.metaAttributes = metaAttributes
        self.instanceAttributes = instanceAttributes
        self.verbatim = verbatim
    }
}

/// An `<alert>`: an agent Pacemaker calls on cluster events.
public struct Alert: Hashable, Sendable {
    /// The alert id.
    public var id: String
    /// The agent's path.
    public var path: String
    /// The optional description.
    public var description: String?
    /// The event kinds sent to the agent (`nodes`, `fencing`, `resources`, `attributes`); `nil` means all.
    public var select: [String]?
    /// Alert meta attributes (`timeout`, `timestamp-format`).
    public var metaAttributes: [AttributeSet]
    /// Options passed to the agent (`instance_attributes`).
    public var instanceAttributes: [AttributeSet]
    /// The recipients.
    public var recipients: [AlertRecipient]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// The event kinds an alert may select.
    public static let selectKinds = ["nodes", "fencing", "resources", "attributes"]

    /// Creates an alert.
    public init(
        id: String, path: String, description: String? = nil, select: [String]? = nil,
        metaAttributes: [AttributeSet] = [], instanceAttributes: [AttributeSet] = [],
        recipients: [AlertRecipient] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.path = path
        self.description = description
        self.select = select
        self.metaAttributes = metaAttributes
        self.instanceAttributes = instanceAttributes
        self.recipients = recipients
        self.verbatim = verbatim
    }
}

/// A `<node>` of the `<nodes>` section.
public struct Node: Hashable, Sendable {
    /// The node id (corosync's node id for cluster nodes).
    public var id: String
    /// The node name.
    public var uname: String
    /// `member`, `remote` or `ping`; `nil` means member.
    public var type: String?
    /// The optional description.
    public var description: String?
    /// Permanent node attributes (`instance_attributes`).
    public var attributes: [AttributeSet]
    /// Node utilization.
    public var utilization: [AttributeSet]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a node.
    public init(
        id: String, uname: String, type: String? = nil, description: String? = nil, attributes: [AttributeSet] = [],
        utilization: [AttributeSet] = [], verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.uname = uname
        self.type = type
        self.description = description
        self.attributes = attributes
        self.utilization = utilization
        self.verbatim = verbatim
    }
}

/// A `<fencing-level>`: the devices that fence a target at one level.
public struct FencingLevel: Hashable, Sendable {
    /// The XML id; `nil` until assigned (`fl-<target>-<index>`, as pcs does).
    public var id: String?
    /// The level (1..9), tried in increasing order.
    public var index: String
    /// The node fenced (`target`); the other target forms sit in `otherAttributes`.
    public var target: String?
    /// The fence device ids, in order (`devices`, comma separated in the CIB).
    public var devices: [String]
    /// Other XML attributes (`target-pattern`, `target-attribute`, `target-value`), in order.
    public var otherAttributes: [NVPair]
    /// The element as read, when the typed fields do not capture all of it.
    public var verbatim: OpaqueXML?

    /// Creates a level.
    public init(
        id: String? = nil, index: String, target: String?, devices: [String], otherAttributes: [NVPair] = [],
        verbatim: OpaqueXML? = nil
    ) {
        self.id = id
        self.index = index
        self.target = target
        self.devices = devices
        self.otherAttributes = otherAttributes
        self.verbatim = verbatim
    }
}

/// The `<configuration>` section of a CIB as a value.
///
/// Sections that are `nil` are absent from the XML; an empty array is an empty element. Sections and elements the
/// model does not type are kept in `otherSections` or as opaque elements in their place.
public struct Configuration: Hashable, Sendable {
    /// `cluster_property_set`s of `<crm_config>` (pcs writes `cib-bootstrap-options`).
    public var properties: [AttributeSet]
    /// `<nodes>`.
    public var nodes: [Node]
    /// Opaque elements inside `<nodes>` (kept in their relative order, after typed nodes).
    public var opaqueNodes: [OpaqueXML]
    /// `<resources>`.
    public var resources: [Resource]
    /// `<constraints>`.
    public var constraints: [Constraint]
    /// `<rsc_defaults>` meta attribute sets.
    public var resourceDefaults: [AttributeSet]?
    /// `<op_defaults>` meta attribute sets.
    public var operationDefaults: [AttributeSet]?
    /// `<alerts>`.
    public var alerts: [Alert]?
    /// `<fencing-topology>` levels.
    public var fencingLevels: [FencingLevel]?
    /// Any other section (`tags`, `acls`, ...), verbatim.
    public var otherSections: [OpaqueXML]

    /// Creates a configuration.
    public init(
        properties: [AttributeSet] = [], nodes: [Node] = [], opaqueNodes: [OpaqueXML] = [],
        resources: [Resource] = [], constraints: [Constraint] = [], resourceDefaults: [AttributeSet]? = nil,
        operationDefaults: [AttributeSet]? = nil, alerts: [Alert]? = nil, fencingLevels: [FencingLevel]? = nil,
        otherSections: [OpaqueXML] = []
    ) {
        self.properties = properties
        self.nodes = nodes
        self.opaqueNodes = opaqueNodes
        self.resources = resources
        self.constraints = constraints
        self.resourceDefaults = resourceDefaults
        self.operationDefaults = operationDefaults
        self.alerts = alerts
        self.fencingLevels = fencingLevels
        self.otherSections = otherSections
    }

    /// Every resource, depth first (clones before their child, groups before their members).
    public var allResources: [Resource] { resources.flatMap(\.flattened) }

    /// Every resource id defined, including those inside opaque elements.
    public var resourceIDs: [String] { resources.flatMap(\.definedResourceIDs) }
}
