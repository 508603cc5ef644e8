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

    /// Notes sets the spec cannot carry exactly: extra sets, verbatim sets, or ids off pcs's convention.
    mutating func checkSets(_ sets: [AttributeSet], base: String, owner: String, nameLimit: Int? = nil) {
        for (i, set) in sets.enumerated() {
            if set.verbatim != nil || i > 0 || set.score != nil || set.id != base {
                note("\(owner): attribute set '\(set.id ?? "")' (only one set with pcs's ids can be expressed)")
                continue
            }
            for pair in set.nvpairs {
                let part = nameLimit.map { String(pair.name.prefix($0)) } ?? pair.name
                if pair.id != "\(base)-\(part)" {
                    note("\(owner): nvpair id '\(pair.id ?? "")' (the spec uses pcs's ids)")
                }
            }
        }
    }

    mutating func write(_ config: Configuration) -> YNode {
        var top: [Entry] = []
        if !config.properties.isEmpty {
            checkSets(config.properties, base: "cib-bootstrap-options", owner: "properties", nameLimit: 20)
            top.append(
                (Self.s("properties"), Self.pairs(Array(config.properties.prefix(1)).filter { $0.verbatim == nil })))
        }
        var defaults: [Entry] = []
        if let d = config.resourceDefaults, !d.isEmpty {
            checkSets(d, base: "rsc_defaults-meta_attributes", owner: "rsc_defaults", nameLimit: 20)
            defaults.append((Self.s("resources"), Self.pairs(Array(d.prefix(1)).filter { $0.verbatim == nil })))
        }
        if let d = config.operationDefaults, !d.isEmpty {
            checkSets(d, base: "op_defaults-meta_attributes", owner: "op_defaults", nameLimit: 20)
            defaults.append((Self.s("operations"), Self.pairs(Array(d.prefix(1)).filter { $0.verbatim == nil })))
        }
        if !defaults.isEmpty { top.append((Self.s("defaults"), Self.map(defaults))) }
        let nodes = config.nodes.compactMap { node($0) }
        for o in config.opaqueNodes { note("\(o.name) '\(o.id ?? "")' in nodes") }
        if !nodes.isEmpty { top.append((Self.s("nodes"), Self.list(nodes))) }
        let resources = config.resources.compactMap { resource($0) }
        if !resources.isEmpty { top.append((Self.s("resources"), Self.list(resources))) }
        let constraints = config.constraints.compactMap { constraint($0) }
        if !constraints.isEmpty { top.append((Self.s("constraints"), Self.list(constraints))) }
        if let alerts = config.alerts, !alerts.isEmpty {
            top.append((Self.s("alerts"), Self.list(alerts.enumerated().compactMap { alert($1, index: $0) })))
        }
        if let levels = config.fencingLevels, !levels.isEmpty {
            top.append((Self.s("fencing-topology"), Self.list(levels.compactMap { fencingLevel($0) })))
        }
        for section in config.otherSections { note("section \(section.name)") }
        return Self.map(top)
    }

    mutating func node(_ n: Node) -> YNode? {
        if n.verbatim != nil {
            note("node '\(n.id)'")
            return nil
        }
        var e: [Entry] = [(Self.s("id"), Self.s(n.id)), (Self.s("name"), Self.s(n.uname))]
        if let t = n.type { e.append((Self.s("type"), Self.s(t))) }
        if let d = n.description { e.append((Self.s("description"), Self.s(d))) }
        if !n.attributes.isEmpty {
            checkSets(n.attributes, base: "nodes-\(n.id)", owner: "node '\(n.id)'")
            e.append((Self.s("attributes"), Self.pairs(Array(n.attributes.prefix(1)))))
        }
        if !n.utilization.isEmpty {
            checkSets(n.utilization, base: "nodes-\(n.id)-utilization", owner: "node '\(n.id)'")
            e.append((Self.s("utilization"), Self.pairs(Array(n.utilization.prefix(1)))))
        }
        return Self.map(e)
    }

    mutating func primitiveEntries(_ p: Primitive) -> [Entry]? {
        // An agent the spec's `agent` key cannot spell (ocf without a provider) stays in the CIB only.
        guard p.verbatim == nil, let agent = p.agent, ResourceAgent(parsing: agent.description) == agent else {
            note("primitive '\(p.id)'")
            return nil
        }
        var e: [Entry] = [(Self.s("id"), Self.s(p.id)), (Self.s("agent"), Self.s(agent.description))]
        if let d = p.description { e.append((Self.s("description"), Self.s(d))) }
        if !p.instanceAttributes.isEmpty {
            checkSets(p.instanceAttributes, base: "\(p.id)-instance_attributes", owner: "primitive '\(p.id)'")
            e.append((Self.s("params"), Self.pairs(Array(p.instanceAttributes.prefix(1)))))
        }
        if !p.metaAttributes.isEmpty {
            checkSets(p.metaAttributes, base: "\(p.id)-meta_attributes", owner: "primitive '\(p.id)'")
            e.append((Self.s("meta"), Self.pairs(Array(p.metaAttributes.prefix(1)))))
        }
        if !p.utilization.isEmpty {
            checkSets(p.utilization, base: "\(p.id)-utilization", owner: "primitive '\(p.id)'")
            e.append((Self.s("utilization"), Self.pairs(Array(p.utilization.prefix(1)))))
        }
        if p.operationsID != nil { note("primitive '\(p.id)': operations id '\(p.operationsID!)'") }
        var ops: [YNode] = []
        for op in p.operations {
            if op.verbatim != nil {
                note("op '\(op.id ?? op.name)' of primitive '\(p.id)'")
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
            return primitiveEntries(p).map { Self.map($0) }
        case .group(let g):
            return groupEntries(g).map { Self.map($0) }
        case .clone(let c):
            guard c.verbatim == nil else {
                note("clone '\(c.id)'")
                return nil
            }
            var e: [Entry]
            switch c.child {
            case .primitive(let p):
                guard let pe = primitiveEntries(p) else { return nil }
                e = pe
            case .group(let g):
                guard let ge = groupEntries(g) else { return nil }
                e = ge
            default:
                note("clone '\(c.id)'")
                return nil
            }
            var clone: [Entry] = []
            if c.id != "\(c.child.id ?? "")-clone" { clone.append((Self.s("id"), Self.s(c.id))) }
            if let d = c.description { clone.append((Self.s("description"), Self.s(d))) }
            checkSets(c.metaAttributes, base: "\(c.id)-meta_attributes", owner: "clone '\(c.id)'")
            for pair in c.metaAttributes.first?.nvpairs ?? [] {
                clone.append((Self.s(pair.name), Self.s(pair.value ?? "")))
            }
            if !c.instanceAttributes.isEmpty { note("clone '\(c.id)': instance_attributes") }
            e.append((Self.s("clone"), Self.map(clone, flow: true)))
            return Self.map(e)
        case .opaque(let o):
            note("\(o.name) '\(o.id ?? "")'")
            return nil
        }
    }

    mutating func groupEntries(_ g: Group) -> [Entry]? {
        guard g.verbatim == nil else {
            note("group '\(g.id)'")
            return nil
        }
        var e: [Entry] = [(Self.s("group"), Self.s(g.id))]
        if let d = g.description { e.append((Self.s("description"), Self.s(d))) }
        if !g.metaAttributes.isEmpty {
            checkSets(g.metaAttributes, base: "\(g.id)-meta_attributes", owner: "group '\(g.id)'")
            e.append((Self.s("meta"), Self.pairs(Array(g.metaAttributes.prefix(1)))))
        }
        if !g.instanceAttributes.isEmpty {
            checkSets(g.instanceAttributes, base: "\(g.id)-instance_attributes", owner: "group '\(g.id)'")
            e.append((Self.s("params"), Self.pairs(Array(g.instanceAttributes.prefix(1)))))
        }
        e.append((Self.s("resources"), Self.list(g.members.compactMap { resource($0) })))
        return e
    }

    func options(_ pairs: [NVPair]) -> [Entry] { pairs.map { (Self.s($0.name), Self.s($0.value ?? "")) } }

    /// Set ids are generated from the constraint id (`<id>_set`, `<id>_set-1`, ...); others cannot be expressed.
    mutating func noteSetIDs(_ list: [ResourceSet], constraintID: String, owner: String) {
        for (i, set) in list.enumerated() where set.id != (i == 0 ? "\(constraintID)_set" : "\(constraintID)_set-\(i)")
        {
            note("\(owner) '\(constraintID)': resource set id '\(set.id ?? "")'")
        }
    }

    mutating func sets(_ list: [ResourceSet], owner: String) -> YNode {
        Self.list(
            list.map { set in
                var e: [Entry] = [(Self.s("resources"), Self.list(set.resources.map(Self.s), flow: true))]
                e += options(set.options)
                if set.verbatim != nil { note("\(owner): resource set '\(set.id ?? "")'") }
                return Self.map(e, flow: true)
            })
    }

    mutating func constraint(_ c: Constraint) -> YNode? {
        switch c {
        case .order(let o):
            guard o.verbatim == nil, o.score == nil else {
                note("rsc_order '\(o.id ?? "")'")
                return nil
            }
            var e: [Entry] = []
            if o.sets.isEmpty {
                e.append((Self.s("first"), Self.s(o.first ?? "")))
                e.append((Self.s("then"), Self.s(o.then ?? "")))
                if let a = o.firstAction, a != "start" { e.append((Self.s("first-action"), Self.s(a))) }
                if let a = o.thenAction, a != "start" { e.append((Self.s("then-action"), Self.s(a))) }
            } else {
                e.append((Self.s("sets"), sets(o.sets, owner: "rsc_order '\(o.id ?? "")'")))
                e.append((Self.s("id"), Self.s(o.id ?? "")))
                noteSetIDs(o.sets, constraintID: o.id ?? "", owner: "rsc_order")
            }
            if let k = o.kind { e.append((Self.s("kind"), Self.s(k.rawValue))) }
            if let s = o.symmetrical { e.append((Self.s("symmetrical"), Self.s(s))) }
            if o.sets.isEmpty, o.id != "order-\(o.first ?? "")-\(o.then ?? "")-\(o.kind?.rawValue ?? "mandatory")" {
                e.append((Self.s("id"), Self.s(o.id ?? "")))
            }
            return Self.map([(Self.s("order"), Self.map(e, flow: true))])
        case .colocation(let o):
            guard o.verbatim == nil else {
                note("rsc_colocation '\(o.id ?? "")'")
                return nil
            }
            var e: [Entry] = []
            if o.sets.isEmpty {
                e.append((Self.s("resource"), Self.s(o.resource ?? "")))
                e.append((Self.s("with"), Self.s(o.with ?? "")))
            } else {
                e.append((Self.s("sets"), sets(o.sets, owner: "rsc_colocation '\(o.id ?? "")'")))
                e.append((Self.s("id"), Self.s(o.id ?? "")))
                noteSetIDs(o.sets, constraintID: o.id ?? "", owner: "rsc_colocation")
            }
            if let s = o.score { e.append((Self.s("score"), Self.s(s))) }
            if let r = o.resourceRole { e.append((Self.s("resource-role"), Self.s(r))) }
            if let r = o.withRole { e.append((Self.s("with-role"), Self.s(r))) }
            e += options(o.otherAttributes)
            if o.sets.isEmpty, o.id != "colocation-\(o.resource ?? "")-\(o.with ?? "")-\(o.score ?? "INFINITY")" {
                e.append((Self.s("id"), Self.s(o.id ?? "")))
            }
            return Self.map([(Self.s("colocation"), Self.map(e, flow: true))])
        case .location(let o):
            guard o.verbatim == nil, o.sets.isEmpty, o.rules.allSatisfy({ $0.verbatim == nil }) else {
                note("rsc_location '\(o.id ?? "")'")
                return nil
            }
            var e: [Entry] = []
            if let r = o.resource { e.append((Self.s("resource"), Self.s(r))) }
            if let r = o.resourcePattern { e.append((Self.s("resource-pattern"), Self.s(r))) }
            if let n = o.node { e.append((Self.s("node"), Self.s(n))) }
            if let s = o.score { e.append((Self.s("score"), Self.s(s))) }
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
            note("\(o.name) '\(o.id ?? "")'")
            return nil
        }
    }

    mutating func alert(_ a: Alert, index: Int) -> YNode? {
        guard a.verbatim == nil else {
            note("alert '\(a.id)'")
            return nil
        }
        var e: [Entry] = [(Self.s("id"), Self.s(a.id)), (Self.s("path"), Self.s(a.path))]
        if let d = a.description { e.append((Self.s("description"), Self.s(d))) }
        if let sel = a.select { e.append((Self.s("select"), Self.list(sel.map(Self.s), flow: true))) }
        if !a.instanceAttributes.isEmpty {
            checkSets(a.instanceAttributes, base: "\(a.id)-instance_attributes", owner: "alert '\(a.id)'")
            e.append((Self.s("options"), Self.pairs(Array(a.instanceAttributes.prefix(1)))))
        }
        if !a.metaAttributes.isEmpty {
            checkSets(a.metaAttributes, base: "\(a.id)-meta_attributes", owner: "alert '\(a.id)'")
            e.append((Self.s("meta"), Self.pairs(Array(a.metaAttributes.prefix(1)))))
        }
        var recipients: [YNode] = []
        for r in a.recipients {
            guard r.verbatim == nil else {
                note("recipient '\(r.id ?? "")'")
                continue
            }
            let rid = r.id ?? ""
            var re: [Entry] = [(Self.s("id"), Self.s(rid)), (Self.s("value"), Self.s(r.value))]
            if let d = r.description { re.append((Self.s("description"), Self.s(d))) }
            if !r.instanceAttributes.isEmpty {
                checkSets(r.instanceAttributes, base: "\(rid)-instance_attributes", owner: "recipient '\(rid)'")
                re.append((Self.s("options"), Self.pairs(Array(r.instanceAttributes.prefix(1)))))
            }
            if !r.metaAttributes.isEmpty {
                checkSets(r.metaAttributes, base: "\(rid)-meta_attributes", owner: "recipient '\(rid)'")
                re.append((Self.s("meta"), Self.pairs(Array(r.metaAttributes.prefix(1)))))
            }
            recipients.append(Self.map(re, flow: true))
        }
        if !recipients.isEmpty { e.append((Self.s("recipients"), Self.list(recipients))) }
        return Self.map(e)
    }

    mutating func fencingLevel(_ l: FencingLevel) -> YNode? {
        guard l.verbatim == nil, l.otherAttributes.isEmpty, let target = l.target else {
            note("fencing-level '\(l.id ?? "")'")
            return nil
        }
        var e: [Entry] = [
            (Self.s("target"), Self.s(target)), (Self.s("index"), Self.s(l.index)),
            (Self.s("devices"), Self.list(l.devices.map(Self.s), flow: true)),
        ]
        if l.id != "fl-\(target)-\(l.index)" { e.append((Self.s("id"), Self.s(l.id ?? ""))) }
        return Self.map(e, flow: true)
    }
}
