/// An id defined somewhere in a configuration, with a description of the object that defines it.
public struct DefinedIDEntry: Hashable, Sendable {
    /// The id.
    public var id: String
    /// The object, as messages name it (`primitive 'vip'`, `nvpair 'vip-instance_attributes-ip'`).
    public var object: String
    /// The element that carries the id (`primitive`, `nvpair`, `node`, ...).
    public var element: String
}

extension Configuration {
    /// Every id the configuration defines, in document order (ids inside opaque elements included).
    public func definedIDs() -> [DefinedIDEntry] {
        var out: [DefinedIDEntry] = []
        func add(_ id: String?, _ kind: String) {
            if let id { out.append(DefinedIDEntry(id: id, object: "\(kind) '\(id)'", element: kind)) }
        }
        func opaque(_ o: OpaqueXML) {
            for d in o.definedIDs { add(d.id, d.element) }
        }
        func sets(_ list: [AttributeSet], _ kind: String) {
            for s in list {
                if let v = s.verbatim {
                    opaque(v)
                    continue
                }
                add(s.id, kind)
                for p in s.nvpairs { add(p.id, "nvpair") }
            }
        }
        func resource(_ r: Resource) {
            switch r {
            case .primitive(let p):
                if let v = p.verbatim { return opaque(v) }
                add(p.id, "primitive")
                sets(p.instanceAttributes, "instance_attributes")
                sets(p.metaAttributes, "meta_attributes")
                sets(p.utilization, "utilization")
                add(p.operationsID, "operations")
                for op in p.operations {
                    if let v = op.verbatim { opaque(v) } else { add(op.id, "op") }
                }
            case .group(let g):
                if let v = g.verbatim { return opaque(v) }
                add(g.id, "group")
                g.members.forEach(resource)
                sets(g.instanceAttributes, "instance_attributes")
                sets(g.metaAttributes, "meta_attributes")
            case .clone(let c):
                if let v = c.verbatim { return opaque(v) }
                add(c.id, "clone")
                resource(c.child)
                sets(c.instanceAttributes, "instance_attributes")
                sets(c.metaAttributes, "meta_attributes")
            case .opaque(let o):
                opaque(o)
            }
        }
        func resourceSets(_ list: [ResourceSet]) {
            for s in list { if let v = s.verbatim { opaque(v) } else { add(s.id, "resource_set") } }
        }
        sets(properties, "cluster_property_set")
        for n in nodes {
            if let v = n.verbatim {
                opaque(v)
                continue
            }
            add(n.id, "node")
            sets(n.attributes, "instance_attributes")
            sets(n.utilization, "utilization")
        }
        opaqueNodes.forEach(opaque)
        resources.forEach(resource)
        for c in constraints {
            switch c {
            case .order(let o):
                if let v = o.verbatim {
                    opaque(v)
                } else {
                    add(o.id, "rsc_order")
                    resourceSets(o.sets)
                }
            case .colocation(let o):
                if let v = o.verbatim {
                    opaque(v)
                } else {
                    add(o.id, "rsc_colocation")
                    resourceSets(o.sets)
                }
            case .location(let o):
                if let v = o.verbatim {
                    opaque(v)
                    continue
                }
                add(o.id, "rsc_location")
                resourceSets(o.sets)
                for r in o.rules {
                    if let v = r.verbatim {
                        opaque(v)
                        continue
                    }
                    add(r.id, "rule")
                    for e in r.expressions { add(e.id, "expression") }
                }
            case .opaque(let o):
                opaque(o)
            }
        }
        for l in fencingLevels ?? [] { if let v = l.verbatim { opaque(v) } else { add(l.id, "fencing-level") } }
        for a in alerts ?? [] {
            if let v = a.verbatim {
                opaque(v)
                continue
            }
            add(a.id, "alert")
            sets(a.metaAttributes, "meta_attributes")
            sets(a.instanceAttributes, "instance_attributes")
            for r in a.recipients {
                if let v = r.verbatim {
                    opaque(v)
                    continue
                }
                add(r.id, "recipient")
                sets(r.metaAttributes, "meta_attributes")
                sets(r.instanceAttributes, "instance_attributes")
            }
        }
        sets(resourceDefaults ?? [], "meta_attributes")
        sets(operationDefaults ?? [], "meta_attributes")
        otherSections.forEach(opaque)
        return out
    }

    /// A copy where every missing id is filled in with pcs 0.11's conventions.
    ///
    /// | object | id |
    /// | --- | --- |
    /// | instance/meta attributes of resource R | `R-instance_attributes`, `R-meta_attributes`, `R-utilization` |
    /// | nvpair N in set S | `S-N` (N cut to 20 characters for properties and defaults, as pcs does) |
    /// | op of R | `R-<name>-interval-<interval>` |
    /// | properties | `cib-bootstrap-options` |
    /// | order | `order-<first>-<then>-<kind>` (`mandatory` in lower case when no kind is given) |
    /// | colocation | `colocation-<rsc>-<with>-<score>` |
    /// | location | `location-<rsc>-<node>-<score>`, or `location-<rsc>` with rules `<id>-rule`, `<rule>-expr` |
    /// | defaults | `rsc_defaults-meta_attributes`, `op_defaults-meta_attributes` |
    /// | alert recipient | `<alert>-recipient` |
    /// | fencing level | `fl-<target>-<index>` |
    /// | node attributes | `nodes-<node id>`, `nodes-<node id>-utilization` |
    ///
    /// An id that is already taken gets `-1`, `-2`, ... appended, as pcs does.
    public func assigningIDs() -> Configuration {
        var assigner = IDAssigner(used: Set(definedIDs().map(\.id)))
        return assigner.assign(self)
    }
}

/// Fills in missing ids, keeping them unique.
struct IDAssigner {
    var used: Set<String>

    mutating func unique(_ base: String) -> String {
        var candidate = base
        var n = 1
        while used.contains(candidate) {
            candidate = "\(base)-\(n)"
            n += 1
        }
        used.insert(candidate)
        return candidate
    }

    mutating func fill(_ id: inout String?, _ base: @autoclosure () -> String) {
        if id == nil { id = unique(base()) }
    }

    /// - Parameter nameLimit: how many characters of an nvpair's name go into its id. pcs 0.11 cuts names to
    ///   20 characters in the ids of cluster properties and defaults (`cib-bootstrap-options-cluster-recheck-inte`)
    ///   but not elsewhere.
    mutating func sets(_ list: inout [AttributeSet], base: String, nameLimit: Int? = nil) {
        for i in list.indices where list[i].verbatim == nil {
            fill(&list[i].id, base)
            let setID = list[i].id ?? base
            for j in list[i].nvpairs.indices {
                let name = list[i].nvpairs[j].name
                let part = nameLimit.map { String(name.prefix($0)) } ?? name
                fill(&list[i].nvpairs[j].id, setID + "-" + part)
            }
        }
    }

    mutating func resource(_ r: inout Resource) {
        switch r {
        case .primitive(var p):
            guard p.verbatim == nil else { return }
            sets(&p.instanceAttributes, base: "\(p.id)-instance_attributes")
            sets(&p.metaAttributes, base: "\(p.id)-meta_attributes")
            sets(&p.utilization, base: "\(p.id)-utilization")
            for i in p.operations.indices where p.operations[i].verbatim == nil {
                let op = p.operations[i]
                fill(&p.operations[i].id, "\(p.id)-\(op.name)-interval-\(op.interval)")
            }
            r = .primitive(p)
        case .group(var g):
            guard g.verbatim == nil else { return }
            for i in g.members.indices { resource(&g.members[i]) }
            sets(&g.instanceAttributes, base: "\(g.id)-instance_attributes")
            sets(&g.metaAttributes, base: "\(g.id)-meta_attributes")
            r = .group(g)
        case .clone(var c):
            guard c.verbatim == nil else { return }
            resource(&c.child)
            sets(&c.instanceAttributes, base: "\(c.id)-instance_attributes")
            sets(&c.metaAttributes, base: "\(c.id)-meta_attributes")
            r = .clone(c)
        case .opaque:
            return
        }
    }

    mutating func resourceSets(_ list: inout [ResourceSet], base: String) {
        for i in list.indices where list[i].verbatim == nil {
            fill(&list[i].id, i == 0 ? "\(base)_set" : "\(base)_set-\(i)")
        }
    }

    mutating func assign(_ input: Configuration) -> Configuration {
        var c = input
        sets(&c.properties, base: "cib-bootstrap-options", nameLimit: 20)
        for i in c.nodes.indices where c.nodes[i].verbatim == nil {
            let id = c.nodes[i].id
            sets(&c.nodes[i].attributes, base: "nodes-\(id)")
            sets(&c.nodes[i].utilization, base: "nodes-\(id)-utilization")
        }
        for i in c.resources.indices { resource(&c.resources[i]) }
        for i in c.constraints.indices {
            switch c.constraints[i] {
            case .order(var o) where o.verbatim == nil:
                if o.sets.isEmpty {
                    let kind = o.kind?.rawValue ?? "mandatory"
                    fill(&o.id, "order-\(o.first ?? "")-\(o.then ?? "")-\(kind)")
                } else {
                    fill(&o.id, "order_set_" + o.sets.flatMap(\.resources).joined(separator: "_"))
                }
                resourceSets(&o.sets, base: o.id ?? "")
                c.constraints[i] = .order(o)
            case .colocation(var o) where o.verbatim == nil:
                if o.sets.isEmpty {
                    fill(&o.id, "colocation-\(o.resource ?? "")-\(o.with ?? "")-\(o.score ?? "INFINITY")")
                } else {
                    fill(&o.id, "colocation_set_" + o.sets.flatMap(\.resources).joined(separator: "_"))
                }
                resourceSets(&o.sets, base: o.id ?? "")
                c.constraints[i] = .colocation(o)
            case .location(var o) where o.verbatim == nil:
                let subject = o.resource ?? o.resourcePattern ?? "set"
                if o.rules.isEmpty {
                    fill(&o.id, "location-\(subject)-\(o.node ?? "")-\(o.score ?? "INFINITY")")
                } else {
                    fill(&o.id, "location-\(subject)")
                }
                resourceSets(&o.sets, base: o.id ?? "")
                for r in o.rules.indices where o.rules[r].verbatim == nil {
                    fill(&o.rules[r].id, "\(o.id ?? "")-rule")
                    let ruleID = o.rules[r].id ?? ""
                    for e in o.rules[r].expressions.indices {
                        fill(&o.rules[r].expressions[e].id, e == 0 ? "\(ruleID)-expr" : "\(ruleID)-expr-\(e)")
                    }
                }
                c.constraints[i] = .location(o)
            default:
                break
            }
        }
        if c.fencingLevels != nil {
            for i in c.fencingLevels!.indices where c.fencingLevels![i].verbatim == nil {
                let l = c.fencingLevels![i]
                fill(&c.fencingLevels![i].id, "fl-\(l.target ?? "")-\(l.index)")
            }
        }
        if c.alerts != nil {
            for i in c.alerts!.indices where c.alerts![i].verbatim == nil {
                let id = c.alerts![i].id
                sets(&c.alerts![i].metaAttributes, base: "\(id)-meta_attributes")
                sets(&c.alerts![i].instanceAttributes, base: "\(id)-instance_attributes")
                for r in c.alerts![i].recipients.indices where c.alerts![i].recipients[r].verbatim == nil {
                    fill(&c.alerts![i].recipients[r].id, "\(id)-recipient")
                    let rid = c.alerts![i].recipients[r].id ?? ""
                    sets(&c.alerts![i].recipients[r].metaAttributes, base: "\(rid)-meta_attributes")
                    sets(&c.alerts![i].recipients[r].instanceAttributes, base: "\(rid)-instance_attributes")
                }
            }
        }
        if c.resourceDefaults != nil { sets(&c.resourceDefaults!, base: "rsc_defaults-meta_attributes", nameLimit: 20) }
        if c.operationDefaults != nil {
            sets(&c.operationDefaults!, base: "op_defaults-meta_attributes", nameLimit: 20)
        }
        return c
    }
}
