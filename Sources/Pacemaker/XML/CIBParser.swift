import Foundation
import FoundationXML

/// Why a CIB could not be read.
public struct CIBParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A short machine-readable code (`malformedXML`, `noConfiguration`).
    public var code: String
    /// What went wrong, for a person.
    public var message: String
    /// The description of the underlying error, if any.
    public var underlying: String?

    /// Creates an error.
    public init(code: String, message: String, underlying: String? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// `message`, plus the underlying error when there is one.
    public var description: String { underlying.map { "\(message): \($0)" } ?? message }
}

/// A parsed CIB: the attributes of `<cib>` and the configuration. The status section is ignored.
public struct CIB: Hashable, Sendable {
    /// The attributes of the `<cib>` element, in document order (`validate-with`, `epoch`, ...).
    public var attributes: [NVPair]
    /// The configuration section.
    public var configuration: Configuration

    /// Creates a CIB value.
    public init(attributes: [NVPair], configuration: Configuration) {
        self.attributes = attributes
        self.configuration = configuration
    }
}

extension OpaqueXML {
    /// Keeps `xml` (one well-formed element) verbatim.
    /// - Throws: `CIBParseError` when `xml` is not a single well-formed element.
    public init(xml: String) throws {
        do {
            // XMLElement recovers from malformed text silently on Linux; check first.
            try WellFormedXML.check(Data(xml.utf8))
            self.init(element: try XMLElement(xmlString: xml))
        } catch let error as CIBParseError {
            throw error
        } catch {
            throw CIBParseError(code: "malformedXML", message: "not a well-formed XML element", underlying: "\(error)")
        }
    }

    init(element: XMLElement) {
        var ids: [DefinedID] = []
        func collect(_ el: XMLElement) {
            // resource_ref, obj_ref and an ACL target's or group's role are references: they carry `id` but
            // define nothing.
            if let id = el.attribute(forName: "id")?.stringValue, !["resource_ref", "obj_ref", "role"].contains(el.name ?? "") {
                ids.append(DefinedID(element: el.name ?? "", id: id))
            }
            for child in el.children ?? [] { if let c = child as? XMLElement { collect(c) } }
        }
        collect(element)
        self.init(
            name: element.name ?? "", xml: element.xmlString, id: element.attribute(forName: "id")?.stringValue,
            definedIDs: ids)
    }
}

/// Reads a CIB (from `cibadmin -Q`, a CIB file, or a bare `<configuration>`) into the model.
///
/// Every element is first read into the typed model, then rendered back and compared (canonically) with what was
/// read; when the two differ, the model keeps the element verbatim in its place. So parsing never loses anything,
/// and what is typed is exactly what the typed model can reproduce.
public enum CIBParser {
    /// Parses a CIB document.
    /// - Throws: `CIBParseError` for malformed XML or a document without a configuration section.
    public static func parse(data: Data) throws -> CIB {
        let document: XMLDocument
        do {
            try WellFormedXML.check(data)
            document = try XMLDocument(data: data, options: [])
        } catch {
            throw CIBParseError(code: "malformedXML", message: "the CIB is not well-formed XML", underlying: "\(error)")
        }
        guard let root = document.rootElement() else {
            throw CIBParseError(code: "noConfiguration", message: "the CIB has no root element")
        }
        if root.name == "configuration" {
            return CIB(attributes: [], configuration: configuration(root))
        }
        guard root.name == "cib", let config = root.elements(forName: "configuration").first else {
            throw CIBParseError(
                code: "noConfiguration",
                message: "expected <cib> with a <configuration> section, found <\(root.name ?? "")>")
        }
        let attributes = (root.attributes ?? []).map { NVPair(name: $0.name ?? "", value: $0.stringValue) }
        return CIB(attributes: attributes, configuration: configuration(config))
    }

    /// Parses a CIB document given as text.
    public static func parse(xml: String) throws -> CIB { try parse(data: Data(xml.utf8)) }

    /// The configuration of a `<configuration>` element.
    public static func configuration(_ element: XMLElement) -> Configuration {
        var config = Configuration()
        for section in childElements(element) {
            switch section.name {
            case "crm_config":
                config.properties = childElements(section).map { attributeSet($0) }
                // crm_config holds only cluster_property_set; anything else makes the whole section verbatim.
                if !childElements(section).allSatisfy({ $0.name == "cluster_property_set" }) {
                    config.properties = []
                    config.otherSections.append(OpaqueXML(element: section))
                }
            case "nodes":
                for child in childElements(section) {
                    if child.name == "node" {
                        config.nodes.append(node(child))
                    } else {
                        config.opaqueNodes.append(OpaqueXML(element: child))
                    }
                }
            case "resources":
                config.resources = childElements(section).map(resource)
            case "constraints":
                config.constraints = childElements(section).map(constraint)
            case "rsc_defaults" where childElements(section).allSatisfy({ $0.name == "meta_attributes" }):
                config.resourceDefaults = childElements(section).map { attributeSet($0) }
            case "op_defaults" where childElements(section).allSatisfy({ $0.name == "meta_attributes" }):
                config.operationDefaults = childElements(section).map { attributeSet($0) }
            case "alerts" where childElements(section).allSatisfy({ $0.name == "alert" }):
                config.alerts = childElements(section).map(alert)
            case "fencing-topology" where childElements(section).allSatisfy({ $0.name == "fencing-level" }):
                config.fencingLevels = childElements(section).map(fencingLevel)
            default:
                config.otherSections.append(OpaqueXML(element: section))
            }
        }
        return config
    }

    // MARK: - Helpers

    static func childElements(_ element: XMLElement) -> [XMLElement] {
        (element.children ?? []).compactMap { $0 as? XMLElement }
    }

    static func attr(_ element: XMLElement, _ name: String) -> String? {
        element.attribute(forName: name)?.stringValue
    }

    /// Whether `element` has no attribute outside `allowed`.
    static func hasOnly(_ element: XMLElement, attributes allowed: Set<String>) -> Bool {
        (element.attributes ?? []).allSatisfy { allowed.contains($0.name ?? "") }
    }

    /// Whether `element` has no child element and no text but whitespace (comments are ignored, as canonically).
    static func isLeaf(_ element: XMLElement) -> Bool {
        (element.children ?? []).allSatisfy { child in
            child.kind == .comment
                || (child.kind == .text
                    && (child.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        }
    }

    /// Whether `element`'s own text children are all whitespace.
    static func hasNoText(_ element: XMLElement) -> Bool {
        (element.children ?? []).allSatisfy { child in
            child.kind != .text || (child.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        }
    }

    /// Attributes other than `known`, in document order.
    static func otherAttributes(_ element: XMLElement, known: Set<String>) -> [NVPair] {
        (element.attributes ?? []).compactMap { a in
            guard let name = a.name, !known.contains(name) else { return nil }
            return NVPair(name: name, value: a.stringValue)
        }
    }

    /// Keeps `element` verbatim in `value` unless rendering `value` reproduces it.
    ///
    /// - Parameter shallowExcept: when given, the children of `element` other than those named here were each
    ///   verified already (or kept verbatim), so they are compared by name only: this keeps parsing linear in the
    ///   size of the CIB instead of comparing every subtree again at every level.
    static func verified<T>(
        _ value: T, _ element: XMLElement, shallowExcept deep: Set<String>? = nil, render: (T) -> XMLElement,
        keep: (inout T, OpaqueXML) -> Void
    ) -> T {
        let rendered = render(value)
        let same =
            if let deep {
                CanonicalXML.shallow(rendered, deep: deep) == CanonicalXML.shallow(element, deep: deep)
            } else {
                CanonicalXML.string(rendered) == CanonicalXML.string(element)
            }
        if same { return value }
        var copy = value
        keep(&copy, OpaqueXML(element: element))
        return copy
    }

    // MARK: - Elements

    static func attributeSet(_ element: XMLElement) -> AttributeSet {
        let pairs = childElements(element).map { nv in
            NVPair(id: attr(nv, "id"), name: attr(nv, "name") ?? "", value: attr(nv, "value"))
        }
        let set = AttributeSet(id: attr(element, "id"), score: attr(element, "score"), nvpairs: pairs)
        // The common case, provably reproduced by the typed set: skip rendering it to compare.
        let plain =
            hasOnly(element, attributes: ["id", "score"])
            && childElements(element).allSatisfy { nv in
                nv.name == "nvpair" && attr(nv, "name") != nil && hasOnly(nv, attributes: ["id", "name", "value"])
                    && isLeaf(nv)
            }
        if plain && hasNoText(element) { return set }
        return verified(set, element, render: { CIBRenderer.attributeSet($0, tag: element.name ?? "") }) {
            $0.verbatim = $1
        }
    }

    static func operation(_ element: XMLElement) -> Operation {
        let op = Operation(
            id: attr(element, "id"), name: attr(element, "name") ?? "", interval: attr(element, "interval") ?? "",
            timeout: attr(element, "timeout"), role: attr(element, "role"), onFail: attr(element, "on-fail"),
            otherAttributes: otherAttributes(element, known: ["id", "name", "interval", "timeout", "role", "on-fail"]))
        // Every attribute is captured; an op without children is reproduced exactly.
        if attr(element, "name") != nil && attr(element, "interval") != nil && isLeaf(element) { return op }
        return verified(op, element, render: CIBRenderer.element) { $0.verbatim = $1 }
    }

    static func primitive(_ element: XMLElement) -> Primitive {
        var p = Primitive(id: attr(element, "id") ?? "", agent: nil, description: attr(element, "description"))
        if let cls = attr(element, "class"), let type = attr(element, "type") {
            p.agent = ResourceAgent(
                class: ResourceClass(rawValue: cls), provider: attr(element, "provider"), type: type)
        }
        for child in childElements(element) {
            switch child.name {
            case "instance_attributes": p.instanceAttributes.append(attributeSet(child))
            case "meta_attributes": p.metaAttributes.append(attributeSet(child))
            case "utilization": p.utilization.append(attributeSet(child))
            case "operations":
                p.operationsID = attr(child, "id")
                p.operations += childElements(child).map(operation)
            default: break  // the verification below keeps the whole primitive verbatim
            }
        }
        // The common case needs no rendering: known attributes, known children (each verified on its own), one
        // <operations> holding only ops.
        let children = childElements(element)
        let operations = children.filter { $0.name == "operations" }
        let plain =
            attr(element, "id") != nil && p.agent != nil
            && hasOnly(element, attributes: ["id", "class", "type", "provider", "description"])
            && children.allSatisfy {
                ["instance_attributes", "meta_attributes", "utilization", "operations"].contains($0.name ?? "")
            }
            && operations.count <= 1
            && operations.allSatisfy { ops in
                // An empty <operations/> without id is not rendered back: leave that to the full comparison.
                hasOnly(ops, attributes: ["id"]) && hasNoText(ops) && childElements(ops).allSatisfy { $0.name == "op" }
                    && (attr(ops, "id") != nil || !childElements(ops).isEmpty)
            }
            && hasNoText(element)
        if plain { return p }
        // Attribute sets and ops were verified one by one; the <operations> wrapper is compared in full.
        return verified(p, element, shallowExcept: ["operations"], render: CIBRenderer.element) { $0.verbatim = $1 }
    }

    static func resource(_ element: XMLElement) -> Resource {
        switch element.name {
        case "primitive":
            return .primitive(primitive(element))
        case "group":
            var g = Group(id: attr(element, "id") ?? "", description: attr(element, "description"), members: [])
            for child in childElements(element) {
                switch child.name {
                case "meta_attributes": g.metaAttributes.append(attributeSet(child))
                case "instance_attributes": g.instanceAttributes.append(attributeSet(child))
                default: g.members.append(resource(child))
                }
            }
            // Every child becomes a member or a set (each verified on its own): only the group's own attributes
            // can be lost.
            if attr(element, "id") != nil && hasOnly(element, attributes: ["id", "description"]) && hasNoText(element) {
                return .group(g)
            }
            let checked = verified(
                g, element, shallowExcept: [], render: { CIBRenderer.element(.group($0), shallowChildren: true) }
            ) {
                $0.verbatim = $1
            }
            return .group(checked)
        case "clone":
            var children: [Resource] = []
            var c = Clone(
                id: attr(element, "id") ?? "", description: attr(element, "description"),
                child: .opaque(OpaqueXML(name: "", xml: "", id: nil, definedIDs: [])))
            for child in childElements(element) {
                switch child.name {
                case "meta_attributes": c.metaAttributes.append(attributeSet(child))
                case "instance_attributes": c.instanceAttributes.append(attributeSet(child))
                default: children.append(resource(child))
                }
            }
            guard children.count == 1 else { return .opaque(OpaqueXML(element: element)) }
            c.child = children[0]
            if attr(element, "id") != nil && hasOnly(element, attributes: ["id", "description"]) && hasNoText(element) {
                return .clone(c)
            }
            let checked = verified(
                c, element, shallowExcept: [], render: { CIBRenderer.element(.clone($0), shallowChildren: true) }
            ) {
                $0.verbatim = $1
            }
            return .clone(checked)
        default:
            return .opaque(OpaqueXML(element: element))
        }
    }

    static func resourceSet(_ element: XMLElement) -> ResourceSet {
        var set = ResourceSet(id: attr(element, "id"), resources: [])
        set.options = otherAttributes(element, known: ["id"])
        set.resources = childElements(element).map { attr($0, "id") ?? "" }
        return verified(set, element, render: CIBRenderer.element) { $0.verbatim = $1 }
    }

    static func rule(_ element: XMLElement) -> Rule {
        var rule = Rule(
            id: attr(element, "id"), score: attr(element, "score"), booleanOp: attr(element, "boolean-op"),
            otherAttributes: otherAttributes(element, known: ["id", "score", "boolean-op"]), expressions: [])
        for child in childElements(element) {
            rule.expressions.append(
                RuleExpression(
                    id: attr(child, "id"), attribute: attr(child, "attribute") ?? "",
                    operation: attr(child, "operation") ?? "", value: attr(child, "value"),
                    otherAttributes: otherAttributes(child, known: ["id", "attribute", "operation", "value"])))
        }
        return verified(rule, element, render: CIBRenderer.element) { $0.verbatim = $1 }
    }

    static func constraint(_ element: XMLElement) -> Constraint {
        let sets = childElements(element).filter { $0.name == "resource_set" }.map(resourceSet)
        switch element.name {
        case "rsc_order":
            let kind = attr(element, "kind")
            var c = OrderConstraint(
                id: attr(element, "id"), first: attr(element, "first"), then: attr(element, "then"),
                firstAction: attr(element, "first-action"), thenAction: attr(element, "then-action"),
                kind: kind.flatMap(OrderKind.init(rawValue:)), symmetrical: attr(element, "symmetrical"),
                score: attr(element, "score"), sets: sets)
            if kind != nil && c.kind == nil { c.verbatim = OpaqueXML(element: element) }
            return .order(verified(c, element, render: { CIBRenderer.element(.order($0)) }) { $0.verbatim = $1 })
        case "rsc_colocation":
            let c = ColocationConstraint(
                id: attr(element, "id"), resource: attr(element, "rsc"), with: attr(element, "with-rsc"),
                score: attr(element, "score"), resourceRole: attr(element, "rsc-role"),
                withRole: attr(element, "with-rsc-role"),
                otherAttributes: otherAttributes(
                    element, known: ["id", "rsc", "with-rsc", "score", "rsc-role", "with-rsc-role"]),
                sets: sets)
            return .colocation(
                verified(c, element, render: { CIBRenderer.element(.colocation($0)) }) { $0.verbatim = $1 })
        case "rsc_location":
            let c = LocationConstraint(
                id: attr(element, "id"), resource: attr(element, "rsc"), resourcePattern: attr(element, "rsc-pattern"),
                node: attr(element, "node"), score: attr(element, "score"),
                otherAttributes: otherAttributes(element, known: ["id", "rsc", "rsc-pattern", "node", "score"]),
                rules: childElements(element).filter { $0.name == "rule" }.map(rule), sets: sets)
            return .location(
                verified(c, element, render: { CIBRenderer.element(.location($0)) }) { $0.verbatim = $1 })
        default:
            return .opaque(OpaqueXML(element: element))
        }
    }

    static func node(_ element: XMLElement) -> Node {
        var n = Node(
            id: attr(element, "id") ?? "", uname: attr(element, "uname") ?? "", type: attr(element, "type"),
            description: attr(element, "description"))
        for child in childElements(element) {
            if child.name == "utilization" {
                n.utilization.append(attributeSet(child))
            } else {
                n.attributes.append(attributeSet(child))
            }
        }
        return verified(n, element, render: CIBRenderer.element) { $0.verbatim = $1 }
    }

    static func fencingLevel(_ element: XMLElement) -> FencingLevel {
        let devices = (attr(element, "devices") ?? "").split(separator: ",").map(String.init)
        let level = FencingLevel(
            id: attr(element, "id"), index: attr(element, "index") ?? "", target: attr(element, "target"),
            devices: devices, otherAttributes: otherAttributes(element, known: ["id", "index", "target", "devices"]))
        return verified(level, element, render: CIBRenderer.element) { $0.verbatim = $1 }
    }

    static func alert(_ element: XMLElement) -> Alert {
        var a = Alert(
            id: attr(element, "id") ?? "", path: attr(element, "path") ?? "", description: attr(element, "description"))
        for child in childElements(element) {
            switch child.name {
            case "select":
                a.select = childElements(child).map { ($0.name ?? "").replacingOccurrences(of: "select_", with: "") }
            case "meta_attributes": a.metaAttributes.append(attributeSet(child))
            case "instance_attributes": a.instanceAttributes.append(attributeSet(child))
            case "recipient":
                var r = AlertRecipient(
                    id: attr(child, "id"), value: attr(child, "value") ?? "", description: attr(child, "description"))
                for sub in childElements(child) {
                    if sub.name == "meta_attributes" {
                        r.metaAttributes.append(attributeSet(sub))
                    } else {
                        r.instanceAttributes.append(attributeSet(sub))
                    }
                }
                a.recipients.append(verified(r, child, render: CIBRenderer.element) { $0.verbatim = $1 })
            default: break
            }
        }
        return verified(a, element, render: CIBRenderer.element) { $0.verbatim = $1 }
    }
}
