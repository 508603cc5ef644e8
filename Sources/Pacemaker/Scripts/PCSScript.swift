/// A pcs 0.11 script: the commands, and what they cannot express.
public struct PCSScriptOutput: Hashable, Sendable {
    /// One argument array per command, `pcs` first.
    public var commands: [[String]]
    /// Objects the commands leave out (verbatim elements, ids off pcs's conventions, alert selections...).
    public var omitted: [String]
}

/// Renders a configuration as pcs 0.11 commands that rebuild it.
///
/// Clone meta attributes go through `pcs resource clone X meta ...`: in pcs 0.11,
/// `pcs resource create X ... clone interleave=true` puts `interleave` on the primitive, not on the clone.
/// Every `resource create` / `stonith create` carries `--no-default-ops` and lists the operations of the model, so
/// pcs adds nothing from the agent's metadata (it still adds a monitor when the model has none; see docs).
public enum PCSScript {
    /// The commands that rebuild `configuration` (see `renderWithNotes` for what they leave out).
    /// - Parameters:
    ///   - cibFile: when given, every command gets `-f FILE` (offline, on a CIB file).
    ///   - force: add `--force` to resource creation (agents that are not installed where pcs runs).
    public static func render(_ configuration: Configuration, cibFile: String? = nil, force: Bool = false) -> [[String]]
    {
        renderWithNotes(configuration, cibFile: cibFile, force: force).commands
    }

    /// The commands and the objects they cannot express.
    public static func renderWithNotes(_ configuration: Configuration, cibFile: String? = nil, force: Bool = false)
        -> PCSScriptOutput
    {
        var r = PCSRenderer(force: force)
        r.render(configuration.assigningIDs())
        let prefix = ["pcs"] + (cibFile.map { ["-f", $0] } ?? [])
        return PCSScriptOutput(commands: r.commands.map { prefix + $0 }, omitted: r.omitted)
    }

    /// The commands as displayable shell lines.
    public static func shellText(_ commands: [[String]]) -> String {
        commands.map(ShellQuoting.line).joined(separator: "\n") + (commands.isEmpty ? "" : "\n")
    }
}

struct PCSRenderer {
    let force: Bool
    var commands: [[String]] = []
    var omitted: [String] = []

    init(force: Bool) { self.force = force }

    static func kv(_ pairs: [NVPair]) -> [String] { pairs.map { "\($0.name)=\($0.value ?? "")" } }

    mutating func checkSet(_ sets: [AttributeSet], base: String, owner: String, nameLimit: Int? = nil) {
        for (i, set) in sets.enumerated() {
            if set.verbatim != nil || i > 0 || set.score != nil || set.id != base {
                omitted.append("\(owner): attribute set '\(set.id ?? "")'")
                continue
            }
            for pair in set.nvpairs
            where pair.id != base + "-" + (nameLimit.map { String(pair.name.prefix($0)) } ?? pair.name) {
                omitted.append("\(owner): nvpair id '\(pair.id ?? "")'")
            }
        }
    }

    func first(_ sets: [AttributeSet]) -> [NVPair] {
        sets.first.flatMap { $0.verbatim == nil ? $0.nvpairs : nil } ?? []
    }

    mutating func render(_ c: Configuration) {
        checkSet(c.properties, base: "cib-bootstrap-options", owner: "properties", nameLimit: 20)
        for pair in first(c.properties) { commands.append(["property", "set", "\(pair.name)=\(pair.value ?? "")"]) }
        if let d = c.resourceDefaults {
            checkSet(d, base: "rsc_defaults-meta_attributes", owner: "rsc_defaults", nameLimit: 20)
            for pair in first(d) {
                commands.append(["resource", "defaults", "update", "\(pair.name)=\(pair.value ?? "")"])
            }
        }
        if let d = c.operationDefaults {
            checkSet(d, base: "op_defaults-meta_attributes", owner: "op_defaults", nameLimit: 20)
            for pair in first(d) {
                commands.append(["resource", "op", "defaults", "update", "\(pair.name)=\(pair.value ?? "")"])
            }
        }
        for node in c.nodes {
            guard node.verbatim == nil else {
                omitted.append("node '\(node.id)'")
                continue
            }
            checkSet(node.attributes, base: "nodes-\(node.id)", owner: "node '\(node.id)'")
            checkSet(node.utilization, base: "nodes-\(node.id)-utilization", owner: "node '\(node.id)'")
            let attrs = first(node.attributes)
            if !attrs.isEmpty { commands.append(["node", "attribute", node.uname] + Self.kv(attrs)) }
            let util = first(node.utilization)
            if !util.isEmpty { commands.append(["node", "utilization", node.uname] + Self.kv(util)) }
        }
        for o in c.opaqueNodes { omitted.append("\(o.name) '\(o.id ?? "")' in nodes") }
        for resource in c.resources { self.resource(resource, group: nil) }
        for constraint in c.constraints { self.constraint(constraint) }
        for level in c.fencingLevels ?? [] {
            guard level.verbatim == nil, level.otherAttributes.isEmpty, let target = level.target else {
                omitted.append("fencing-level '\(level.id ?? "")'")
                continue
            }
            if level.id != "fl-\(target)-\(level.index)" { omitted.append("fencing-level id '\(level.id ?? "")'") }
            commands.append(["stonith", "level", "add", level.index, target] + level.devices)
        }
        for alert in c.alerts ?? [] { self.alert(alert) }
        for section in c.otherSections { omitted.append("section \(section.name)") }
    }

    mutating func primitive(_ p: Primitive, group: String?) {
        guard p.verbatim == nil, let agent = p.agent else {
            omitted.append("primitive '\(p.id)'")
            return
        }
        checkSet(p.instanceAttributes, base: "\(p.id)-instance_attributes", owner: "primitive '\(p.id)'")
        checkSet(p.metaAttributes, base: "\(p.id)-meta_attributes", owner: "primitive '\(p.id)'")
        checkSet(p.utilization, base: "\(p.id)-utilization", owner: "primitive '\(p.id)'")
        if p.operationsID != nil { omitted.append("primitive '\(p.id)': operations id") }
        var argv: [String]
        if agent.resourceClass == .stonith {
            argv = ["stonith", "create", p.id, agent.type]
        } else {
            argv = ["resource", "create", p.id, agent.description]
        }
        argv += Self.kv(first(p.instanceAttributes))
        for op in p.operations {
            guard op.verbatim == nil else {
                omitted.append("op '\(op.id ?? "")'")
                continue
            }
            argv += ["op", op.name]
            if op.interval != "0s" { argv.append("interval=\(op.interval)") }
            if let t = op.timeout { argv.append("timeout=\(t)") }
            if let r = op.role { argv.append("role=\(r)") }
            if let f = op.onFail { argv.append("on-fail=\(f)") }
            argv += Self.kv(op.otherAttributes)
            if op.id != "\(p.id)-\(op.name)-interval-\(op.interval)" { argv.append("id=\(op.id ?? "")") }
        }
        let meta = first(p.metaAttributes)
        if !meta.isEmpty { argv += ["meta"] + Self.kv(meta) }
        if let description = p.description { omitted.append("primitive '\(p.id)': description '\(description)'") }
        if let group { argv += ["--group", group] }
        argv.append("--no-default-ops")
        if force { argv.append("--force") }
        commands.append(argv)
        if !p.operations.contains(where: { $0.name == "monitor" }) {
            // pcs adds a monitor to every new resource; take it away again. (With no operation left, pcs keeps an
            // empty <operations/>, which means the same as none.)
            commands.append(["resource", "op", "delete", p.id, "monitor"])
        }
        let util = first(p.utilization)
        if !util.isEmpty { commands.append(["resource", "utilization", p.id] + Self.kv(util)) }
    }

    mutating func resource(_ r: Resource, group: String?) {
        switch r {
        case .primitive(let p):
            primitive(p, group: group)
        case .group(let g):
            guard g.verbatim == nil, group == nil else {
                omitted.append("group '\(g.id)'")
                return
            }
            for member in g.members { resource(member, group: g.id) }
            checkSet(g.metaAttributes, base: "\(g.id)-meta_attributes", owner: "group '\(g.id)'")
            let meta = first(g.metaAttributes)
            if !meta.isEmpty { commands.append(["resource", "meta", g.id] + Self.kv(meta)) }
            if !g.instanceAttributes.isEmpty { omitted.append("group '\(g.id)': instance_attributes") }
        case .clone(let c):
            guard c.verbatim == nil, group == nil, let childID = c.child.id else {
                omitted.append("clone '\(c.id)'")
                return
            }
            resource(c.child, group: nil)
            checkSet(c.metaAttributes, base: "\(c.id)-meta_attributes", owner: "clone '\(c.id)'")
            var argv = ["resource", "clone", childID]
            if c.id != "\(childID)-clone" { argv.append(c.id) }
            let meta = first(c.metaAttributes)
            if !meta.isEmpty { argv += ["meta"] + Self.kv(meta) }
            commands.append(argv)
            if !c.instanceAttributes.isEmpty { omitted.append("clone '\(c.id)': instance_attributes") }
        case .opaque(let o):
            omitted.append("\(o.name) '\(o.id ?? "")'")
        }
    }

    mutating func setArguments(_ sets: [ResourceSet], owner: String) -> [String] {
        var argv: [String] = []
        for set in sets {
            if set.verbatim != nil { omitted.append("\(owner): resource set '\(set.id ?? "")'") }
            argv += ["set"] + set.resources + Self.kv(set.options)
        }
        return argv
    }

    mutating func constraint(_ c: Constraint) {
        switch c {
        case .order(let o):
            guard o.verbatim == nil, o.score == nil else {
                omitted.append("rsc_order '\(o.id ?? "")'")
                return
            }
            var options: [String] = []
            if let k = o.kind { options.append("kind=\(k.rawValue)") }
            if let s = o.symmetrical { options.append("symmetrical=\(s)") }
            if o.sets.isEmpty {
                var argv = ["constraint", "order"]
                if let a = o.firstAction { argv.append(a) }
                argv.append(o.first ?? "")
                argv.append("then")
                if let a = o.thenAction { argv.append(a) }
                argv.append(o.then ?? "")
                if o.id != "order-\(o.first ?? "")-\(o.then ?? "")-\(o.kind?.rawValue ?? "mandatory")" {
                    options.append("id=\(o.id ?? "")")
                }
                commands.append(argv + options)
            } else {
                // pcs names set constraints with random suffixes; ask for the model's id.
                options.append("id=\(o.id ?? "")")
                commands.append(
                    ["constraint", "order"] + setArguments(o.sets, owner: "rsc_order '\(o.id ?? "")'") + ["setoptions"]
                        + options)
            }
        case .colocation(let o):
            guard o.verbatim == nil else {
                omitted.append("rsc_colocation '\(o.id ?? "")'")
                return
            }
            if o.sets.isEmpty {
                var argv = ["constraint", "colocation", "add"]
                if let role = o.resourceRole { argv.append(role) }
                argv.append(o.resource ?? "")
                argv.append("with")
                if let role = o.withRole { argv.append(role) }
                argv.append(o.with ?? "")
                // Positional score: pcs 0.11.5 builds the id from the positional score only, so `score=-100`
                // would give `colocation-a-b-INFINITY`. A negative score needs `--` before it.
                let score = o.score ?? "INFINITY"
                if score.hasPrefix("-") { argv.append("--") }
                argv.append(score)
                argv += Self.kv(o.otherAttributes)
                if o.id != "colocation-\(o.resource ?? "")-\(o.with ?? "")-\(o.score ?? "INFINITY")" {
                    argv.append("id=\(o.id ?? "")")
                }
                commands.append(argv)
            } else {
                var options = ["id=\(o.id ?? "")"]
                if let s = o.score { options.append("score=\(s)") }
                options += Self.kv(o.otherAttributes)
                commands.append(
                    ["constraint", "colocation"] + setArguments(o.sets, owner: "rsc_colocation '\(o.id ?? "")'")
                        + ["setoptions"] + options)
            }
        case .location(let o):
            guard o.verbatim == nil, o.sets.isEmpty, o.resourcePattern == nil, let resource = o.resource else {
                omitted.append("rsc_location '\(o.id ?? "")'")
                return
            }
            if o.rules.isEmpty {
                let score = o.score ?? "INFINITY"
                guard let node = o.node else {
                    omitted.append("rsc_location '\(o.id ?? "")'")
                    return
                }
                if o.id == "location-\(resource)-\(node)-\(score)" && o.otherAttributes.isEmpty {
                    commands.append(["constraint", "location", resource, "prefers", "\(node)=\(score)"])
                } else {
                    commands.append(
                        ["constraint", "location", "add", o.id ?? "", resource, node, score]
                            + Self.kv(o.otherAttributes))
                }
                return
            }
            for (i, rule) in o.rules.enumerated() {
                guard rule.verbatim == nil else {
                    omitted.append("rule '\(rule.id ?? "")'")
                    continue
                }
                if i > 0 {
                    omitted.append(
                        "rsc_location '\(o.id ?? "")': rule '\(rule.id ?? "")' (one rule per constraint in pcs)")
                    continue
                }
                var argv = ["constraint", "location", resource, "rule"]
                if rule.id != "\(o.id ?? "")-rule" { argv.append("id=\(rule.id ?? "")") }
                if o.id != "location-\(resource)" { argv.append("constraint-id=\(o.id ?? "")") }
                argv += Self.kv(o.otherAttributes)
                argv += Self.kv(rule.otherAttributes)
                if let s = rule.score { argv.append("score=\(s)") }
                let joiner = rule.booleanOp ?? "and"
                for (j, x) in rule.expressions.enumerated() {
                    if j > 0 { argv.append(joiner) }
                    if x.operation == "defined" || x.operation == "not_defined" {
                        argv += [x.operation, x.attribute]
                    } else {
                        argv += [x.attribute, x.operation, x.value ?? ""]
                    }
                    if !x.otherAttributes.isEmpty { omitted.append("expression '\(x.id ?? "")': type options") }
                }
                commands.append(argv)
            }
        case .opaque(let o):
            omitted.append("\(o.name) '\(o.id ?? "")'")
        }
    }

    mutating func alert(_ a: Alert) {
        guard a.verbatim == nil else {
            omitted.append("alert '\(a.id)'")
            return
        }
        var argv = ["alert", "create", "path=\(a.path)", "id=\(a.id)"]
        if let d = a.description { argv.append("description=\(d)") }
        checkSet(a.instanceAttributes, base: "\(a.id)-instance_attributes", owner: "alert '\(a.id)'")
        checkSet(a.metaAttributes, base: "\(a.id)-meta_attributes", owner: "alert '\(a.id)'")
        let options = first(a.instanceAttributes)
        if !options.isEmpty { argv += ["options"] + Self.kv(options) }
        let meta = first(a.metaAttributes)
        if !meta.isEmpty { argv += ["meta"] + Self.kv(meta) }
        commands.append(argv)
        if a.select != nil { omitted.append("alert '\(a.id)': select (pcs cannot set it)") }
        for r in a.recipients {
            guard r.verbatim == nil else {
                omitted.append("recipient '\(r.id ?? "")'")
                continue
            }
            let rid = r.id ?? ""
            var argv = ["alert", "recipient", "add", a.id, "value=\(r.value)", "id=\(rid)"]
            if let d = r.description { argv.append("description=\(d)") }
            checkSet(r.instanceAttributes, base: "\(rid)-instance_attributes", owner: "recipient '\(rid)'")
            checkSet(r.metaAttributes, base: "\(rid)-meta_attributes", owner: "recipient '\(rid)'")
            let options = first(r.instanceAttributes)
            if !options.isEmpty { argv += ["options"] + Self.kv(options) }
            let meta = first(r.metaAttributes)
            if !meta.isEmpty { argv += ["meta"] + Self.kv(meta) }
            commands.append(argv)
        }
    }
}
