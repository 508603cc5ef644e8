import Foundation
import FoundationXML

/// Renders the model as CIB XML with FoundationXML.
///
/// Elements with missing ids get ids by pcs's conventions first (`Configuration.assigningIDs()`), so a
/// khactl-made CIB reads like a pcs-made one. Opaque and verbatim elements are written back as they were read.
public enum CIBRenderer {
    /// The schema a rendered CIB declares (`validate-with`), the one pcs 0.11.5 / Pacemaker 2.1.5 writes.
    public static let defaultSchema = "pacemaker-3.9"

    /// The `<configuration>` element of `configuration`.
    public static func configurationElement(_ configuration: Configuration) -> XMLElement {
        let config = configuration.assigningIDs()
        let root = XMLElement(name: "configuration")
        let crmConfig = XMLElement(name: "crm_config")
        for set in config.properties { crmConfig.addChild(attributeSet(set, tag: "cluster_property_set")) }
        root.addChild(crmConfig)
        let nodes = XMLElement(name: "nodes")
        for node in config.nodes { nodes.addChild(element(node)) }
        for node in config.opaqueNodes { nodes.addChild(element(node)) }
        root.addChild(nodes)
        let resources = XMLElement(name: "resources")
        for resource in config.resources { resources.addChild(element(resource)) }
        root.addChild(resources)
        let constraints = XMLElement(name: "constraints")
        for constraint in config.constraints { constraints.addChild(element(constraint)) }
        root.addChild(constraints)
        if let levels = config.fencingLevels {
            let topology = XMLElement(name: "fencing-topology")
            for level in levels { topology.addChild(element(level)) }
            root.addChild(topology)
        }
        if let alerts = config.alerts {
            let section = XMLElement(name: "alerts")
            for alert in alerts { section.addChild(element(alert)) }
            root.addChild(section)
        }
        if let defaults = config.resourceDefaults {
            let section = XMLElement(name: "rsc_defaults")
            for set in defaults { section.addChild(attributeSet(set, tag: "meta_attributes")) }
            root.addChild(section)
        }
        if let defaults = config.operationDefaults {
            let section = XMLElement(name: "op_defaults")
            for set in defaults { section.addChild(attributeSet(set, tag: "meta_attributes")) }
            root.addChild(section)
        }
        for other in config.otherSections { root.addChild(element(other)) }
        return root
    }

    /// A complete CIB document (`<cib>` with the configuration and an empty `<status>`), as XML text.
    ///
    /// - Parameter attributes: attributes of the `<cib>` element; defaults give what `cibadmin --empty` writes.
    public static func render(_ configuration: Configuration, cibAttributes attributes: [(String, String)]? = nil)
        -> String
    {
        let cib = XMLElement(name: "cib")
        let attrs =
            attributes ?? [
                ("crm_feature_set", "3.16.1"), ("validate-with", defaultSchema), ("epoch", "1"),
                ("num_updates", "0"), ("admin_epoch", "0"),
            ]
        for (key, value) in attrs { setAttribute(cib, key, value) }
        cib.addChild(configurationElement(configuration))
        cib.addChild(XMLElement(name: "status"))
        let document = XMLDocument(rootElement: cib)
        document.version = "1.0"
        return document.xmlString(options: [.nodePrettyPrint]) + "\n"
    }

    /// The configuration section alone, as pretty-printed XML text.
    public static func renderConfiguration(_ configuration: Configuration) -> String {
        configurationElement(configuration).xmlString(options: [.nodePrettyPrint])
    }

    // MARK: - Elements

    static func setAttribute(_ element: XMLElement, _ name: String, _ value: String?) {
        guard let value else { return }
        // FoundationXML's attribute factory returns XMLNode; the cast cannot fail for `.attribute` kinds.
        element.addAttribute(XMLNode.attribute(withName: name, stringValue: value) as! XMLNode)
    }

    static func element(_ opaque: OpaqueXML) -> XMLElement {
        do {
            return try XMLElement(xmlString: opaque.xml)
        } catch {
            // OpaqueXML is only made from parsed, well-formed XML (its initializers guarantee it).
            preconditionFailure("OpaqueXML holds malformed XML: \(error)")
        }
    }

    static func attributeSet(_ set: AttributeSet, tag: String) -> XMLElement {
        if let verbatim = set.verbatim { return element(verbatim) }
        let el = XMLElement(name: tag)
        setAttribute(el, "id", set.id)
        setAttribute(el, "score", set.score)
        for pair in set.nvpairs {
            let nv = XMLElement(name: "nvpair")
            setAttribute(nv, "id", pair.id)
            setAttribute(nv, "name", pair.name)
            setAttribute(nv, "value", pair.value)
            el.addChild(nv)
        }
        return el
    }

    static func addSets(_ sets: [AttributeSet], tag: String, to parent: XMLElement) {
        for set in sets { parent.addChild(attributeSet(set, tag: tag)) }
    }

    static func element(_ op: Operation) -> XMLElement {
        if let verbatim = op.verbatim { return element(verbatim) }
        let el = XMLElement(name: "op")
        setAttribute(el, "name", op.name)
        setAttribute(el, "interval", op.interval)
        setAttribute(el, "timeout", op.timeout)
        setAttribute(el, "role", op.role)
        setAttribute(el, "on-fail", op.onFail)
        for pair in op.otherAttributes { setAttribute(el, pair.name, pair.value) }
        setAttribute(el, "id", op.id)
        return el
    }

    static func element(_ primitive: Primitive) -> XMLElement {
        if let verbatim = primitive.verbatim { return element(verbatim) }
        let el = XMLElement(name: "primitive")
        setAttribute(el, "id", primitive.id)
        setAttribute(el, "class", primitive.agent?.resourceClass.rawValue)
        setAttribute(el, "type", primitive.agent?.type)
        setAttribute(el, "provider", primitive.agent?.provider)
        setAttribute(el, "description", primitive.description)
        addSets(primitive.instanceAttributes, tag: "instance_attributes", to: el)
        addSets(primitive.metaAttributes, tag: "meta_attributes", to: el)
        addSets(primitive.utilization, tag: "utilization", to: el)
        if !primitive.operations.isEmpty || primitive.operationsID != nil {
            let ops = XMLElement(name: "operations")
            setAttribute(ops, "id", primitive.operationsID)
            for op in primitive.operations { ops.addChild(element(op)) }
            el.addChild(ops)
        }
        return el
    }

    /// - Parameter shallowChildren: render group members and the clone's child as empty elements of the right
    ///   name (the parser's verification compares those by name only).
    static func element(_ resource: Resource, shallowChildren: Bool = false) -> XMLElement {
        func child(_ r: Resource) -> XMLElement { shallowChildren ? XMLElement(name: r.elementName) : element(r) }
        switch resource {
        case .primitive(let p):
            return element(p)
        case .group(let g):
            if let verbatim = g.verbatim { return element(verbatim) }
            let el = XMLElement(name: "group")
            setAttribute(el, "id", g.id)
            setAttribute(el, "description", g.description)
            for member in g.members { el.addChild(child(member)) }
            addSets(g.instanceAttributes, tag: "instance_attributes", to: el)
            addSets(g.metaAttributes, tag: "meta_attributes", to: el)
            return el
        case .clone(let c):
            if let verbatim = c.verbatim { return element(verbatim) }
            let el = XMLElement(name: "clone")
            setAttribute(el, "id", c.id)
            setAttribute(el, "description", c.description)
            el.addChild(child(c.child))
            addSets(c.instanceAttributes, tag: "instance_attributes", to: el)
            addSets(c.metaAttributes, tag: "meta_attributes", to: el)
            return el
        case .opaque(let o):
            return element(o)
        }
    }

    static func element(_ set: ResourceSet) -> XMLElement {
        if let verbatim = set.verbatim { return element(verbatim) }
        let el = XMLElement(name: "resource_set")
        for pair in set.options { setAttribute(el, pair.name, pair.value) }
        setAttribute(el, "id", set.id)
        for ref in set.resources {
            let r = XMLElement(name: "resource_ref")
            setAttribute(r, "id", ref)
            el.addChild(r)
        }
        return el
    }

    static func element(_ rule: Rule) -> XMLElement {
        if let verbatim = rule.verbatim { return element(verbatim) }
        let el = XMLElement(name: "rule")
        setAttribute(el, "id", rule.id)
        setAttribute(el, "score", rule.score)
        setAttribute(el, "boolean-op", rule.booleanOp)
        for pair in rule.otherAttributes { setAttribute(el, pair.name, pair.value) }
        for expression in rule.expressions {
            let ex = XMLElement(name: "expression")
            setAttribute(ex, "id", expression.id)
            setAttribute(ex, "operation", expression.operation)
            setAttribute(ex, "attribute", expression.attribute)
            setAttribute(ex, "value", expression.value)
            for pair in expression.otherAttributes { setAttribute(ex, pair.name, pair.value) }
            el.addChild(ex)
        }
        return el
    }

    static func element(_ constraint: Constraint) -> XMLElement {
        switch constraint {
        case .order(let c):
            if let verbatim = c.verbatim { return element(verbatim) }
            let el = XMLElement(name: "rsc_order")
            setAttribute(el, "id", c.id)
            setAttribute(el, "first", c.first)
            setAttribute(el, "then", c.then)
            setAttribute(el, "kind", c.kind?.rawValue)
            setAttribute(el, "first-action", c.firstAction)
            setAttribute(el, "then-action", c.thenAction)
            setAttribute(el, "symmetrical", c.symmetrical)
            setAttribute(el, "score", c.score)
            for set in c.sets { el.addChild(element(set)) }
            return el
        case .colocation(let c):
            if let verbatim = c.verbatim { return element(verbatim) }
            let el = XMLElement(name: "rsc_colocation")
            setAttribute(el, "id", c.id)
            setAttribute(el, "rsc", c.resource)
            setAttribute(el, "with-rsc", c.with)
            setAttribute(el, "score", c.score)
            setAttribute(el, "rsc-role", c.resourceRole)
            setAttribute(el, "with-rsc-role", c.withRole)
            for pair in c.otherAttributes { setAttribute(el, pair.name, pair.value) }
            for set in c.sets { el.addChild(element(set)) }
            return el
        case .location(let c):
            if let verbatim = c.verbatim { return element(verbatim) }
            let el = XMLElement(name: "rsc_location")
            setAttribute(el, "id", c.id)
            setAttribute(el, "rsc", c.resource)
            setAttribute(el, "rsc-pattern", c.resourcePattern)
            setAttribute(el, "node", c.node)
            setAttribute(el, "score", c.score)
            for pair in c.otherAttributes { setAttribute(el, pair.name, pair.value) }
            for set in c.sets { el.addChild(element(set)) }
            for rule in c.rules { el.addChild(element(rule)) }
            return el
        case .opaque(let o):
            return element(o)
        }
    }

    static func element(_ node: Node) -> XMLElement {
        if let verbatim = node.verbatim { return element(verbatim) }
        let el = XMLElement(name: "node")
        setAttribute(el, "id", node.id)
        setAttribute(el, "uname", node.uname)
        setAttribute(el, "type", node.type)
        setAttribute(el, "description", node.description)
        addSets(node.attributes, tag: "instance_attributes", to: el)
        addSets(node.utilization, tag: "utilization", to: el)
        return el
    }

    static func element(_ level: FencingLevel) -> XMLElement {
        if let verbatim = level.verbatim { return element(verbatim) }
        let el = XMLElement(name: "fencing-level")
        setAttribute(el, "id", level.id)
        setAttribute(el, "index", level.index)
        setAttribute(el, "target", level.target)
        for pair in level.otherAttributes { setAttribute(el, pair.name, pair.value) }
        setAttribute(el, "devices", level.devices.joined(separator: ","))
        return el
    }

    static func element(_ recipient: AlertRecipient) -> XMLElement {
        if let verbatim = recipient.verbatim { return element(verbatim) }
        let el = XMLElement(name: "recipient")
        setAttribute(el, "id", recipient.id)
        setAttribute(el, "value", recipient.value)
        setAttribute(el, "description", recipient.description)
        addSets(recipient.metaAttributes, tag: "meta_attributes", to: el)
        addSets(recipient.instanceAttributes, tag: "instance_attributes", to: el)
        return el
    }

    static func element(_ alert: Alert) -> XMLElement {
        if let verbatim = alert.verbatim { return element(verbatim) }
        let el = XMLElement(name: "alert")
        setAttribute(el, "id", alert.id)
        setAttribute(el, "path", alert.path)
        setAttribute(el, "description", alert.description)
        if let select = alert.select {
            let sel = XMLElement(name: "select")
            for kind in select { sel.addChild(XMLElement(name: "select_\(kind)")) }
            el.addChild(sel)
        }
        addSets(alert.metaAttributes, tag: "meta_attributes", to: el)
        addSets(alert.instanceAttributes, tag: "instance_attributes", to: el)
        for recipient in alert.recipients { el.addChild(element(recipient)) }
        return el
    }
}
