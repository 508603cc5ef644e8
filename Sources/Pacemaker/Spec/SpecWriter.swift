import Foundation
import FoundationXML
import Yams

/// A spec written from a configuration: the YAML text and what the spec format could not express.
public struct SpecExport: Hashable, Sendable {
    /// The spec as YAML.
    public var yaml: String
    /// The objects left out (kept verbatim in the model, or with ids the spec cannot carry), as messages name them.
    public var omitted: [String]
}

extension SpecFile {
    /// Writes `spec` as YAML, leaving out what the format cannot express (reported in `omitted`).
    ///
    /// Ids that follow pcs's conventions are left out, so a spec made from a pcs-made CIB reads like one
    /// written by hand; reading the result back gives the same configuration.
    public static func export(_ spec: Spec) -> SpecExport {
        var writer = SpecWriter()
        let node = writer.write(spec.configuration)
        let yaml = (try? Yams.serialize(node: node, width: 120, allowUnicode: true, sortKeys: false)) ?? ""
        return SpecExport(yaml: yaml, omitted: writer.omitted)
    }

    /// Writes `spec` as YAML (see `export(_:)` for what is left out).
    public static func yaml(_ spec: Spec) -> String { export(spec).yaml }
}

/// Builds the YAML node tree of a spec, keys in a fixed, readable order.
struct SpecWriter {
    var omitted: [String] = []

    typealias Entry = (YNode, YNode)

    static func s(_ text: String) -> YNode {
        // Quote what YAML would otherwise read as another type or a comment; plain elsewhere, for readability.
        let plainSafe =
            !text.isEmpty && Double(text) == nil && !CIBBoolean.isBoolean(text)
            && !["null", "~", "Null", "NULL"].contains(text)
            && text.first.map { !"#&*!|>'\"%@`-?:[]{},".contains($0) } ?? false
            && !text.contains(": ") && !text.contains(" #") && !text.hasSuffix(":")
        return YNode(text, Tag(.str), plainSafe ? .plain : .doubleQuoted)
    }

    static func map(_ entries: [Entry], flow: Bool = false) -> YNode {
        YNode.mapping(YNode.Mapping(entries, Tag(.map), flow ? .flow : .block))
    }

    static func list(_ items: [YNode], flow: Bool = false) -> YNode {
        YNode.sequence(YNode.Sequence(items, Tag(.seq), flow ? .flow : .block))
    }

    static func pairs(_ sets: [AttributeSet]) -> YNode {
        map(sets.allPairs.map { (s($0.name), s($0.value ?? "")) }, flow: true)
    }

    mutating func note(_ what: String) { omitted.append(what) }

    /// An object the spec's keys cannot spell, carried verbatim: `{xml: "<element .../>"}`.
    static func xml(_ opaque: OpaqueXML) -> YNode { map([(s("xml"), s(opaque.xml))]) }

    /// A typed object the spec's keys cannot spell (an agent without its provider, say), as the XML it renders to.
    static func xml(_ element: XMLElement) -> YNode { map([(s("xml"), s(element.xmlString))]) }

    /// An object's attribute sets of one kind, nothing dropped: one set with pcs's ids is a plain mapping (the
    /// short form users write); anything else is a list of sets with their ids, scores and, where a pair's id is
    /// off the convention or a name comes twice, pairs as `{name, value, id}`; a set the model keeps verbatim (one
    /// with rules or an id-ref) is `{xml: ...}`.
    func sets(_ sets: [AttributeSet], base: String, nameLimit: Int? = nil, asList: Bool = false) -> YNode {
        func conventionalID(_ pair: NVPair, _ setID: String) -> String {
            "\(setID)-\(nameLimit.map { String(pair.name.prefix($0)) } ?? pair.name)"
        }
        func conventional(_ pairs: [NVPair], setID: String) -> Bool {
            Set(pairs.map(\.name)).count == pairs.count
                && pairs.allSatisfy { pair in pair.value != nil && pair.id == conventionalID(pair, setID) }
        }
        if !asList, sets.count == 1, let set = sets.first, set.verbatim == nil, set.score == nil, set.id == base,
            !set.nvpairs.isEmpty,
            conventional(set.nvpairs, setID: base)
        {
            return Self.pairs(sets)
        }
        return Self.list(
            sets.enumerated().map { i, set in
                if let verbatim = set.verbatim { return Self.xml(verbatim) }
                var e: [Entry] = []
                if let id = set.id, !(i == 0 && id == base) { e.append((Self.s("id"), Self.s(id))) }
                if let score = set.score { e.append((Self.s("score"), Self.s(score))) }
                let setID = set.id ?? base
                if conventional(set.nvpairs, setID: setID) {
                    e.append((Self.s("pairs"), Self.pairs([set])))
                } else {
                    e.append(
                        (Self.s("pairs"),
                         Self.list(
                            set.nvpairs.map { pair in
                                var p: [Entry] = [(Self.s("name"), Self.s(pair.name))]
                                if let value = pair.value { p.append((Self.s("value"), Self.s(value))) }
                                // The reader gives a pair without an id its conventional one.
                                if let id = pair.id, id != conventionalID(pair, setID) { p.append((Self.s("id"), Self.s(id))) }
                                return Self.map(p, flow: true)
                            })))
                }
                return Self.map(e)
            })
    }

    mutating func write(_ config: Configuration) -> YNode {
        var top: [Entry] = []
        if !config.properties.isEmpty {
            top.append((Self.s("properties"), sets(config.properties, base: "cib-bootstrap-options", nameLimit: 20)))
        }
        var defaults: [Entry] = []
        if let d = config.resourceDefaults {
            defaults.append((Self.s("resources"), sets(d, base: "rsc_defaults-meta_attributes", nameLimit: 20)))
        }
        if let d = config.operationDefaults {
            defaults.append((Self.s("operations"), sets(d, base: "op_defaults-meta_attributes", nameLimit: 20)))
        }
        if !defaults.isEmpty { top.append((Self.s("defaults"), Self.map(defaults))) }
        let nodes = config.nodes.compactMap { node($0) } + config.opaqueNodes.map(Self.xml)
        if !nodes.isEmpty { top.append((Self.s("nodes"), Self.list(nodes))) }
        let resources = config.resources.compactMap { resource($0) }
        if !resources.isEmpty { top.append((Self.s("resources"), Self.list(resources))) }
        let constraints = config.constraints.compactMap { constraint($0) }
        if !constraints.isEmpty { top.append((Self.s("constraints"), Self.list(constraints))) }
        if let alerts = config.alerts {
            top.append((Self.s("alerts"), Self.list(alerts.enumerated().compactMap { alert($1, index: $0) })))
        }
        if let levels = config.fencingLevels {
            top.append((Self.s("fencing-topology"), Self.list(levels.compactMap { fencingLevel($0) })))
        }
        if !config.otherSections.isEmpty {
            top.append((Self.s("xml"), Self.list(config.otherSections.map { Self.s($0.xml) })))
        }
        return Self.map(top)
    }

    mutating func node(_ n: Node) -> YNode? {
        if let verbatim = n.verbatim { return Self.xml(verbatim) }
        var e: [Entry] = [(Self.s("id"), Self.s(n.id)), (Self.s("name"), Self.s(n.uname))]
        if let t = n.type { e.append((Self.s("type"), Self.s(t))) }
        if let d = n.description { e.append((Self.s("description"), Self.s(d))) }
        if !n.attributes.isEmpty {
            e.append((Self.s("attributes"), sets(n.attributes, base: "nodes-\(n.id)")))
        }
        if !n.utilization.isEmpty {
            e.append((Self.s("utilization"), sets(n.utilization, base: "nodes-\(n.id)-utilization")))
        }
        return Self.map(e)
    }

    mutating func primitiveEntries(_ p: Primitive) -> [Entry]? {
        // An agent the spec's `agent` key cannot spell (ocf without a provider): the caller writes it as `xml:`.
        guard p.verbatim == nil, let agent = p.agent, ResourceAgent(parsing: agent.description) == agent else {
            return nil
        }
        var e: [Entry] = [(Self.s("id"), Self.s(p.id)), (Self.s("agent"), Self.s(agent.description))]
        if let d = p.description { e.append((Self.s("description"), Self.s(d))) }
        if !p.instanceAttributes.isEmpty {
            e.append((Self.s("params"), sets(p.instanceAttributes, base: "\(p.id)-instance_attributes")))
        }
        if !p.metaAttributes.isEmpty {
            e.append((Self.s("meta"), sets(p.metaAttributes, base: "\(p.id)-meta_attributes")))
        }
        if !p.utilization.isEmpty {
            e.append((Self.s("utilization"), sets(p.utilization, base: "\(p.id)-utilization")))
        }
        if let id = p.operationsID { e.append((Self.s("operations-id"), Self.s(id))) }
        var ops: [YNode] = []
        for op in p.operations {
            if let verbatim = op.verbatim {
                ops.append(Self.xml(verbatim))
                continue
            }
            var o: [Entry] = [(Self.s("name"), Self.s(op.name))]
            if op.interval != "0s" { o.append((Self.s("interval"), Self.s(op.interval))) }
            if let t = op.timeout { o.append((Self.s("timeout"), Self.s(t))) }
            if let r = op.role { o.append((Self.s("role"), Self.s(r))) }
            if let f = op.onFail { o.append((Self.s("on-fail"), Self.s(f))) }
            for pair in op.otherAttributes { o.append((Self.s(pair.name), Self.s(pair.value ?? ""))) }
            if op.id != "\(p.id)-\(op.name)-interval-\(op.interval)" { o.append((Self.s("id"), Self.s(op.id ?? ""))) }
            ops.append(Self.map(o, flow: true))
        }
        if !ops.isEmpty { e.append((Self.s("operations"), Self.list(ops))) }
        if !p.operations.contains(where: { $0.name == "monitor" }) {
            // Without this the spec would get the monitor pcs adds by default.
            e.append((Self.s("default-monitor"), Self.s("false")))
        }
        return e
    }

    mutating func resource(_ r: Resource) -> YNode? {
        switch r {
        case .primitive(let p):
            return primitiveEntries(p).map { Self.map($0) } ?? Self.xml(CIBRenderer.element(r))
        case .group(let g):
            return groupEntries(g).map { Self.map($0) } ?? Self.xml(CIBRenderer.element(r))
        case .clone(let c):
            if let verbatim = c.verbatim { return Self.xml(verbatim) }
            var e: [Entry]
            switch c.child {
            case .primitive(let p):
                guard let pe = primitiveEntries(p) else { return Self.xml(CIBRenderer.element(r)) }
                e = pe
            case .group(let g):
                guard let ge = groupEntries(g) else { return Self.xml(CIBRenderer.element(r)) }
                e = ge
            default:
                return Self.xml(CIBRenderer.element(r))
            }
            var clone: [Entry] = []
            if c.id != "\(c.child.id ?? "")-clone" { clone.append((Self.s("id"), Self.s(c.id))) }
            if let d = c.description { clone.append((Self.s("description"), Self.s(d))) }
            let metaBase = "\(c.id)-meta_attributes"
            if !c.metaAttributes.isEmpty {
                let meta = sets(c.metaAttributes, base: metaBase)
                if meta.mapping != nil, !(c.metaAttributes.first?.nvpairs.contains { ["meta", "params"].contains($0.name) } ?? false) {
                    for pair in c.metaAttributes.allPairs { clone.append((Self.s(pair.name), Self.s(pair.value ?? ""))) }
                } else {
                    clone.append((Self.s("meta"), sets(c.metaAttributes, base: metaBase, asList: true)))
                }
            }
            if !c.instanceAttributes.isEmpty {
                clone.append((Self.s("params"), sets(c.instanceAttributes, base: "\(c.id)-instance_attributes", asList: true)))
            }
            e.append((Self.s("clone"), Self.map(clone, flow: true)))
            return Self.map(e)
        case .opaque(let o):
            return Self.xml(o)
        }
    }

    mutating func groupEntries(_ g: Group) -> [Entry]? {
        guard g.verbatim == nil else { return nil }
        var e: [Entry] = [(Self.s("group"), Self.s(g.id))]
        if let d = g.description { e.append((Self.s("description"), Self.s(d))) }
        if !g.metaAttributes.isEmpty {
            e.append((Self.s("meta"), sets(g.metaAttributes, base: "\(g.id)-meta_attributes")))
        }
        if !g.instanceAttributes.isEmpty {
            e.append((Self.s("params"), sets(g.instanceAttributes, base: "\(g.id)-instance_attributes")))
        }
        e.append((Self.s("resources"), Self.list(g.members.compactMap { resource($0) })))
        return e
    }

    func options(_ pairs: [NVPair]) -> [Entry] { pairs.map { (Self.s($0.name), Self.s($0.value ?? "")) } }

    /// Marks a constraint whose CIB leaves out what pcs always writes (an order's actions, a colocation's score
    /// or the role opposite a role, a location's score), so the reader does not add it.
    static var noPCSDefaults: Entry { (s("pcs-defaults"), s("false")) }

    /// Resource sets; a set's id is written when it is not the one the reader derives from the constraint's
    /// (`<id>_set`, `<id>_set-1`, ...).
    func sets(_ list: [ResourceSet], constraintID: String) -> YNode {
        Self.list(
            list.enumerated().map { i, set in
                var e: [Entry] = [(Self.s("resources"), Self.list(set.resources.map(Self.s), flow: true))]
                e += options(set.options)
                if let id = set.id, id != (i == 0 ? "\(constraintID)_set" : "\(constraintID)_set-\(i)") {
                    e.append((Self.s("id"), Self.s(id)))
                }
                return Self.map(e, flow: true)
            })
    }

    mutating func constraint(_ c: Constraint) -> YNode? {
        switch c {
        case .order(let o):
            // What the keys cannot spell: a score (deprecated), a set kept verbatim.
            guard o.verbatim == nil, o.score == nil, o.sets.allSatisfy({ $0.verbatim == nil }) else {
                return Self.xml(CIBRenderer.element(c))
            }
            var e: [Entry] = []
            // An action left out (Pacemaker reads start) stays out: the reader adds pcs's only without this.
            let bare = o.sets.isEmpty && (o.firstAction == nil || o.thenAction == nil)
            if o.sets.isEmpty {
                e.append((Self.s("first"), Self.s(o.first ?? "")))
                e.append((Self.s("then"), Self.s(o.then ?? "")))
                if let a = o.firstAction, a != "start" || bare { e.append((Self.s("first-action"), Self.s(a))) }
                if let a = o.thenAction, a != "start" || bare { e.append((Self.s("then-action"), Self.s(a))) }
                if bare { e.append(Self.noPCSDefaults) }
            } else {
                e.append((Self.s("sets"), sets(o.sets, constraintID: o.id ?? "")))
                e.append((Self.s("id"), Self.s(o.id ?? "")))
            }
            if let k = o.kind { e.append((Self.s("kind"), Self.s(k.rawValue))) }
            if let s = o.symmetrical { e.append((Self.s("symmetrical"), Self.s(s))) }
            if o.sets.isEmpty, o.id != "order-\(o.first ?? "")-\(o.then ?? "")-\(o.kind?.rawValue ?? "mandatory")" {
                e.append((Self.s("id"), Self.s(o.id ?? "")))
            }
            return Self.map([(Self.s("order"), Self.map(e, flow: true))])
        case .colocation(let o):
            guard o.verbatim == nil, o.sets.allSatisfy({ $0.verbatim == nil }) else {
                return Self.xml(CIBRenderer.element(c))
            }
            var e: [Entry] = []
            if o.sets.isEmpty {
                e.append((Self.s("resource"), Self.s(o.resource ?? "")))
                e.append((Self.s("with"), Self.s(o.with ?? "")))
            } else {
                e.append((Self.s("sets"), sets(o.sets, constraintID: o.id ?? "")))
                e.append((Self.s("id"), Self.s(o.id ?? "")))
            }
            if let s = o.score { e.append((Self.s("score"), Self.s(s))) }
            if let r = o.resourceRole { e.append((Self.s("resource-role"), Self.s(r))) }
            if let r = o.withRole { e.append((Self.s("with-role"), Self.s(r))) }
            if o.score == nil || (o.resourceRole == nil) != (o.withRole == nil) { e.append(Self.noPCSDefaults) }
            e += options(o.otherAttributes)
            if o.sets.isEmpty, o.id != "colocation-\(o.resource ?? "")-\(o.with ?? "")-\(o.score ?? "INFINITY")" {
                e.append((Self.s("id"), Self.s(o.id ?? "")))
            }
            return Self.map([(Self.s("colocation"), Self.map(e, flow: true))])
        case .location(let o):
            guard o.verbatim == nil, o.sets.isEmpty, o.rules.allSatisfy({ $0.verbatim == nil }) else {
                return Self.xml(CIBRenderer.element(c))
            }
            var e: [Entry] = []
            if let r = o.resource { e.append((Self.s("resource"), Self.s(r))) }
            if let r = o.resourcePattern { e.append((Self.s("resource-pattern"), Self.s(r))) }
            if let n = o.node { e.append((Self.s("node"), Self.s(n))) }
            if let s = o.score { e.append((Self.s("score"), Self.s(s))) }
            if o.rules.isEmpty && o.score == nil { e.append(Self.noPCSDefaults) }
            e += options(o.otherAttributes)
            let subject = o.resource ?? o.resourcePattern ?? "set"
            if o.rules.isEmpty {
                if o.id != "location-\(subject)-\(o.node ?? "")-\(o.score ?? "INFINITY")" {
                    e.append((Self.s("id"), Self.s(o.id ?? "")))
                }
                return Self.map([(Self.s("location"), Self.map(e, flow: true))])
            }
            if o.id != "location-\(subject)" { e.append((Self.s("id"), Self.s(o.id ?? ""))) }
            var rules: [YNode] = []
            for rule in o.rules {
                var r: [Entry] = []
                if let s = rule.score { r.append((Self.s("score"), Self.s(s))) }
                if let b = rule.booleanOp { r.append((Self.s("boolean-op"), Self.s(b))) }
                r += options(rule.otherAttributes)
                let ruleID = rule.id ?? ""
                if ruleID != "\(o.id ?? "")-rule" { r.append((Self.s("id"), Self.s(ruleID))) }
                var expressions: [YNode] = []
                for (i, x) in rule.expressions.enumerated() {
                    var xe: [Entry] = [
                        (Self.s("attribute"), Self.s(x.attribute)), (Self.s("operation"), Self.s(x.operation)),
                    ]
                    if let v = x.value { xe.append((Self.s("value"), Self.s(v))) }
                    xe += options(x.otherAttributes)
                    if x.id != (i == 0 ? "\(ruleID)-expr" : "\(ruleID)-expr-\(i)") {
                        xe.append((Self.s("id"), Self.s(x.id ?? "")))
                    }
                    expressions.append(Self.map(xe, flow: true))
                }
                r.append((Self.s("expressions"), Self.list(expressions)))
                rules.append(Self.map(r))
            }
            e.append((Self.s("rules"), Self.list(rules)))
            return Self.map([(Self.s("location"), Self.map(e))])
        case .opaque(let o):
            return Self.xml(o)
        }
    }

    mutating func alert(_ a: Alert, index: Int) -> YNode? {
        guard a.verbatim == nil, a.recipients.allSatisfy({ $0.verbatim == nil }) else {
            return Self.xml(CIBRenderer.element(a))
        }
        var e: [Entry] = [(Self.s("id"), Self.s(a.id)), (Self.s("path"), Self.s(a.path))]
        if let d = a.description { e.append((Self.s("description"), Self.s(d))) }
        if let sel = a.select { e.append((Self.s("select"), Self.list(sel.map(Self.s), flow: true))) }
        if !a.instanceAttributes.isEmpty {
            e.append((Self.s("options"), sets(a.instanceAttributes, base: "\(a.id)-instance_attributes")))
        }
        if !a.metaAttributes.isEmpty {
            e.append((Self.s("meta"), sets(a.metaAttributes, base: "\(a.id)-meta_attributes")))
        }
        var recipients: [YNode] = []
        for r in a.recipients {
            let rid = r.id ?? ""
            var re: [Entry] = [(Self.s("id"), Self.s(rid)), (Self.s("value"), Self.s(r.value))]
            if let d = r.description { re.append((Self.s("description"), Self.s(d))) }
            if !r.instanceAttributes.isEmpty {
                re.append((Self.s("options"), sets(r.instanceAttributes, base: "\(rid)-instance_attributes")))
            }
            if !r.metaAttributes.isEmpty {
                re.append((Self.s("meta"), sets(r.metaAttributes, base: "\(rid)-meta_attributes")))
            }
            recipients.append(Self.map(re, flow: true))
        }
        if !recipients.isEmpty { e.append((Self.s("recipients"), Self.list(recipients))) }
        return Self.map(e)
    }

    mutating func fencingLevel(_ l: FencingLevel) -> YNode? {
        guard l.verbatim == nil, l.otherAttributes.isEmpty, let target = l.target else {
            return Self.xml(CIBRenderer.element(l))
        }
        var e: [Entry] = [
            (Self.s("target"), Self.s(target)), (Self.s("index"), Self.s(l.index)),
            (Self.s("devices"), Self.list(l.devices.map(Self.s), flow: true)),
        ]
        if l.id != "fl-\(target)-\(l.index)" { e.append((Self.s("id"), Self.s(l.id ?? ""))) }
        return Self.map(e, flow: true)
    }
}
