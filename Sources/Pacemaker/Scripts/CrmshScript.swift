/// A crmsh script: `crm configure` lines, and what they cannot express.
public struct CrmshScriptOutput: Hashable, Sendable {
    /// One `crm configure` command per line (feed them to `crm configure` on standard input).
    public var lines: [String]
    /// Objects the lines leave out.
    public var omitted: [String]
}

/// Renders a configuration as a `crm configure` script.
///
/// crmsh names sub-objects its own way (`vip-monitor-2s` where pcs writes `vip-monitor-interval-2s`,
/// `rsc-options` for resource defaults), so the top-level ids (resources, constraints, alerts) are kept and the
/// others are crmsh's.
public enum CrmshScript {
    /// The script's lines.
    public static func render(_ configuration: Configuration) -> [String] { renderWithNotes(configuration).lines }

    /// The script's lines and what they leave out.
    public static func renderWithNotes(_ configuration: Configuration) -> CrmshScriptOutput {
        var r = CrmshRenderer()
        r.render(configuration.assigningIDs())
        return CrmshScriptOutput(lines: r.lines, omitted: r.omitted)
    }

    /// A value as crmsh's lexer reads it: bare when it is one simple token, double-quoted otherwise.
    public static func quote(_ value: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+,#")
        if !value.isEmpty && value.allSatisfy({ safe.contains($0) }) { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"" + escaped + "\""
    }
}

struct CrmshRenderer {
    var lines: [String] = []
    var omitted: [String] = []

    static func kv(_ pairs: [NVPair]) -> String {
        pairs.map { "\($0.name)=\(CrmshScript.quote($0.value ?? ""))" }.joined(separator: " ")
    }

    mutating func pairs(_ sets: [AttributeSet], keyword: String, owner: String) -> String? {
        for set in sets.dropFirst() { omitted.append("\(owner): attribute set '\(set.id ?? "")'") }
        guard let set = sets.first else { return nil }
        guard set.verbatim == nil else {
            omitted.append("\(owner): attribute set '\(set.id ?? "")'")
            return nil
        }
        if set.nvpairs.isEmpty { return nil }
        return "\(keyword) \(Self.kv(set.nvpairs))"
    }

    static func score(_ s: String) -> String {
        switch s {
        case "INFINITY", "+INFINITY": "inf"
        case "-INFINITY": "-inf"
        default: s
        }
    }

    mutating func render(_ c: Configuration) {
        for node in c.nodes {
            guard node.verbatim == nil else {
                omitted.append("node '\(node.id)'")
                continue
            }
            var line = "node $id=\(CrmshScript.quote(node.id)) \(node.uname)"
            if let t = node.type { line += ":\(t)" }
            if let a = pairs(node.attributes, keyword: "attributes", owner: "node '\(node.id)'") { line += " " + a }
            if let u = pairs(node.utilization, keyword: "utilization", owner: "node '\(node.id)'") { line += " " + u }
            lines.append(line)
        }
        for resource in c.resources { self.resource(resource) }
        for constraint in c.constraints { self.constraint(constraint) }
        if let levels = c.fencingLevels, !levels.isEmpty {
            var byTarget: [(String, [String])] = []
            for level in levels.sorted(by: { (Int($0.index) ?? 0) < (Int($1.index) ?? 0) }) {
                guard level.verbatim == nil, level.otherAttributes.isEmpty, let target = level.target else {
                    omitted.append("fencing-level '\(level.id ?? "")'")
                    continue
                }
                let devices = level.devices.joined(separator: ",")
                if let i = byTarget.firstIndex(where: { $0.0 == target }) {
                    byTarget[i].1.append(devices)
                } else {
                    byTarget.append((target, [devices]))
                }
            }
            if !byTarget.isEmpty {
                lines.append(
                    "fencing_topology "
                        + byTarget.map { "\($0.0): " + $0.1.joined(separator: " ") }.joined(separator: " "))
            }
        }
        for alert in c.alerts ?? [] { self.alert(alert) }
        if let p = pairs(c.properties, keyword: "property", owner: "properties") { lines.append(p) }
        if let d = c.resourceDefaults, let p = pairs(d, keyword: "rsc_defaults", owner: "rsc_defaults") {
            lines.append(p)
        }
        if let d = c.operationDefaults, let p = pairs(d, keyword: "op_defaults", owner: "op_defaults") {
            lines.append(p)
        }
        for o in c.opaqueNodes { omitted.append("\(o.name) '\(o.id ?? "")' in nodes") }
        for section in c.otherSections { omitted.append("section \(section.name)") }
    }

    mutating func resource(_ r: Resource) {
        switch r {
        case .primitive(let p):
            guard p.verbatim == nil, let agent = p.agent else {
                omitted.append("primitive '\(p.id)'")
                return
            }
            let owner = "primitive '\(p.id)'"
            var line = "primitive \(p.id) \(agent.description)"
            if let a = pairs(p.instanceAttributes, keyword: "params", owner: owner) { line += " " + a }
            if let m = pairs(p.metaAttributes, keyword: "meta", owner: owner) { line += " " + m }
            if let u = pairs(p.utilization, keyword: "utilization", owner: owner) { line += " " + u }
            for op in p.operations {
                guard op.verbatim == nil else {
                    omitted.append("op '\(op.id ?? "")'")
                    continue
                }
                var attrs = [NVPair(name: "interval", value: op.interval)]
                if let t = op.timeout { attrs.append(NVPair(name: "timeout", value: t)) }
                if let role = op.role { attrs.append(NVPair(name: "role", value: role)) }
                if let f = op.onFail { attrs.append(NVPair(name: "on-fail", value: f)) }
                line += " op \(op.name) \(Self.kv(attrs + op.otherAttributes))"
            }
            if let d = p.description { line += " description=\(CrmshScript.quote(d))" }
            lines.append(line)
        case .group(let g):
            guard g.verbatim == nil else {
                omitted.append("group '\(g.id)'")
                return
            }
            for member in g.members { resource(member) }
            var line = "group \(g.id) " + g.members.compactMap(\.id).joined(separator: " ")
            if let m = pairs(g.metaAttributes, keyword: "meta", owner: "group '\(g.id)'") { line += " " + m }
            if let a = pairs(g.instanceAttributes, keyword: "params", owner: "group '\(g.id)'") { line += " " + a }
            if let d = g.description { line += " description=\(CrmshScript.quote(d))" }
            lines.append(line)
        case .clone(let c):
            guard c.verbatim == nil, let child = c.child.id else {
                omitted.append("clone '\(c.id)'")
                return
            }
            resource(c.child)
            var line = "clone \(c.id) \(child)"
            if let m = pairs(c.metaAttributes, keyword: "meta", owner: "clone '\(c.id)'") { line += " " + m }
            if let a = pairs(c.instanceAttributes, keyword: "params", owner: "clone '\(c.id)'") { line += " " + a }
            if let d = c.description { line += " description=\(CrmshScript.quote(d))" }
            lines.append(line)
        case .opaque(let o):
            omitted.append("\(o.name) '\(o.id ?? "")'")
        }
    }

    /// Resource sets in crmsh's notation: `( a b )` for a non-sequential set, `( a b sequential=true )` otherwise.
    mutating func sets(_ list: [ResourceSet], owner: String, action: Bool) -> String {
        list.map { set in
            for option in set.options where !["sequential", "action", "role"].contains(option.name) {
                omitted.append("\(owner): resource set option \(option.name)")
            }
            var suffix = ""
            if action, let a = set.option("action") { suffix = ":\(a)" }
            if let role = set.option("role") { suffix = ":\(role)" }
            let names = set.resources.map { $0 + suffix }.joined(separator: " ")
            // Always parenthesised: two bare names would be read as a simple (non-set) constraint.
            let sequential = set.option("sequential").map(CIBBoolean.isTrue) ?? true
            return sequential ? "( \(names) sequential=true )" : "( \(names) )"
        }.joined(separator: " ")
    }

    mutating func constraint(_ c: Constraint) {
        switch c {
        case .order(let o):
            guard o.verbatim == nil, o.score == nil else {
                omitted.append("rsc_order '\(o.id ?? "")'")
                return
            }
            var line = "order \(o.id ?? "") "
            if let k = o.kind { line += "\(k.rawValue): " }
            if o.sets.isEmpty {
                line += (o.first ?? "") + (o.firstAction.map { ":\($0)" } ?? "") + " "
                line += (o.then ?? "") + (o.thenAction.map { ":\($0)" } ?? "")
            } else {
                line += sets(o.sets, owner: "rsc_order '\(o.id ?? "")'", action: true)
            }
            if let s = o.symmetrical { line += " symmetrical=\(s)" }
            lines.append(line)
        case .colocation(let o):
            guard o.verbatim == nil, o.otherAttributes.isEmpty else {
                omitted.append("rsc_colocation '\(o.id ?? "")'")
                return
            }
            var line = "colocation \(o.id ?? "") \(Self.score(o.score ?? "INFINITY")): "
            if o.sets.isEmpty {
                line += (o.resource ?? "") + (o.resourceRole.map { ":\($0)" } ?? "") + " "
                line += (o.with ?? "") + (o.withRole.map { ":\($0)" } ?? "")
            } else {
                line += sets(o.sets, owner: "rsc_colocation '\(o.id ?? "")'", action: false)
            }
            lines.append(line)
        case .location(let o):
            guard o.verbatim == nil, o.sets.isEmpty, let resource = o.resource ?? o.resourcePattern.map({ "/\($0)/" })
            else {
                omitted.append("rsc_location '\(o.id ?? "")'")
                return
            }
            var line = "location \(o.id ?? "") \(resource)"
            for pair in o.otherAttributes { line += " \(pair.name)=\(CrmshScript.quote(pair.value ?? ""))" }
            if o.rules.isEmpty {
                line += " \(Self.score(o.score ?? "INFINITY")): \(o.node ?? "")"
            }
            for rule in o.rules {
                guard rule.verbatim == nil else {
                    omitted.append("rule '\(rule.id ?? "")'")
                    continue
                }
                line += " rule"
                if let role = rule.otherAttributes.first(where: { $0.name == "role" })?.value {
                    line += " $role=\(role)"
                }
                line += " \(Self.score(rule.score ?? "INFINITY")):"
                let joiner = rule.booleanOp ?? "and"
                for (i, x) in rule.expressions.enumerated() {
                    if i > 0 { line += " \(joiner)" }
                    if x.operation == "defined" || x.operation == "not_defined" {
                        line += " \(x.operation) \(x.attribute)"
                    } else {
                        line += " \(x.attribute) \(x.operation) \(CrmshScript.quote(x.value ?? ""))"
                    }
                }
            }
            lines.append(line)
        case .opaque(let o):
            omitted.append("\(o.name) '\(o.id ?? "")'")
        }
    }

    mutating func alert(_ a: Alert) {
        guard a.verbatim == nil else {
            omitted.append("alert '\(a.id)'")
            return
        }
        var line = "alert \(a.id) \(CrmshScript.quote(a.path))"
        if let d = a.description { line += " description=\(CrmshScript.quote(d))" }
        if let o = pairs(a.instanceAttributes, keyword: "attributes", owner: "alert '\(a.id)'") { line += " " + o }
        if let m = pairs(a.metaAttributes, keyword: "meta", owner: "alert '\(a.id)'") { line += " " + m }
        if let select = a.select { line += " select " + select.joined(separator: " ") }
        for r in a.recipients {
            guard r.verbatim == nil else {
                omitted.append("recipient '\(r.id ?? "")'")
                continue
            }
            let owner = "recipient '\(r.id ?? "")'"
            let options = pairs(r.instanceAttributes, keyword: "attributes", owner: owner)
            let meta = pairs(r.metaAttributes, keyword: "meta", owner: owner)
            let extra = [options, meta].compactMap { $0 }
            if extra.isEmpty {
                line += " to \(CrmshScript.quote(r.value))"
            } else {
                line += " to { \(CrmshScript.quote(r.value)) \(extra.joined(separator: " ")) }"
            }
        }
        lines.append(line)
    }
}
