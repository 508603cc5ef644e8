#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One problem found by validation, naming the object it is about.
public struct ValidationProblem: Hashable, Sendable, CustomStringConvertible {
    /// A stable machine-readable code (`duplicate-id`, `unknown-reference`, `order-cycle`, ...).
    public var code: String
    /// The object, as the CIB names it: `primitive 'vip'`, `rsc_order 'order-vip-haproxy-clone-Optional'`.
    public var object: String
    /// What is wrong, and where it helps, what to do.
    public var message: String
    /// Where the object is written, when it came from a spec file.
    public var location: SpecLocation?
    /// Whether the problem makes the configuration wrong (`error`) or only suspicious (`warning`).
    public var severity: Severity

    /// How bad a problem is.
    public enum Severity: String, Hashable, Sendable {
        /// The configuration is wrong: do not apply it.
        case error
        /// Probably a mistake (an unknown meta attribute name), but Pacemaker accepts it.
        case warning
    }

    /// Creates a problem.
    public init(
        code: String, object: String, message: String, location: SpecLocation? = nil, severity: Severity = .error
    ) {
        self.code = code
        self.object = object
        self.message = message
        self.location = location
        self.severity = severity
    }

    /// `[file:line:column: ]object: message`.
    public var description: String {
        (location.map { "\($0): " } ?? "") + "\(object): \(message)"
    }
}

/// Checks a configuration and reports every problem at once.
///
/// Elements kept verbatim are not checked themselves, but the ids they define count for uniqueness and
/// references.
public enum Validator {
    /// The longest id accepted (Pacemaker has no limit; ids this long are always a mistake).
    public static let maximumIDLength = 255
    /// The longest value accepted.
    public static let maximumValueLength = 4096
    /// Meta attributes that only mean something on a clone.
    public static let cloneOnlyMeta: Set<String> = [
        "interleave", "clone-max", "clone-node-max", "clone-min", "globally-unique", "promotable", "ordered",
        "notify", "promoted-max", "promoted-node-max",
    ]
    /// Meta attribute names Pacemaker 2.1 reads on resources (clone, promotable and group options included);
    /// other names get an `unknown-meta` warning, which catches typos like `interleve`.
    public static let knownMeta: Set<String> = cloneOnlyMeta.union([
        "priority", "critical", "target-role", "is-managed", "maintenance", "resource-stickiness", "requires",
        "migration-threshold", "failure-timeout", "multiple-active", "allow-migrate", "allow-unhealthy-nodes",
        "container-attribute-target", "remote-node", "remote-port", "remote-addr", "remote-connect-timeout",
        "remote-allow-migrate", "collocated", "master-max", "master-node-max", "description", "record-pending",
        "resource-failure-stickiness", "restart-type", "is_managed", "resource_stickiness", "target_role",
        "multiple_active", "migration_threshold", "failure_timeout", "allow_migrate",
    ])
    /// Role names Pacemaker 2.1 accepts.
    public static let roles: Set<String> = ["Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave"]
    /// Resource actions an order constraint may name.
    public static let actions: Set<String> = ["start", "stop", "promote", "demote"]

    /// Validates a spec: the problems found while reading it plus those of its configuration, each with the
    /// position of the object in the spec file where it is known.
    public static func validate(_ spec: Spec) -> [ValidationProblem] {
        spec.problems
            + validate(spec.configuration).map { problem in
                var p = problem
                p.location = p.location ?? spec.locations[p.object]
                return p
            }
    }

    /// Validates a configuration (ids are assigned first where missing, as rendering would).
    public static func validate(_ input: Configuration) -> [ValidationProblem] {
        var check = Checker(config: input.assigningIDs())
        check.run()
        return check.problems
    }

    // MARK: - Value checks, public for reuse by the CLI

    /// Whether `id` is a valid XML id (an NCName: a letter or `_` first, then letters, digits, `_`, `-`, `.`).
    public static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c == "_" }
        guard letter(first) else { return false }
        return id.unicodeScalars.dropFirst().allSatisfy { c in
            letter(c) || c.properties.numericType != nil || c == "-" || c == "."
        }
    }

    /// Whether `score` is a Pacemaker score: an integer, `INFINITY`, `+INFINITY` or `-INFINITY`.
    public static func isValidScore(_ score: String) -> Bool {
        var body = Substring(score)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        if body == "INFINITY" { return true }
        return !body.isEmpty && body.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Whether `text` is a Pacemaker duration: an integer with an optional unit (`ms`, `msec`, `us`, `usec`, `s`,
    /// `sec`, `m`, `min`, `h`, `hr`), or an ISO 8601 duration (`PT10S`, `P1DT2H`).
    public static func isValidDuration(_ text: String) -> Bool {
        if text.hasPrefix("P") { return isISO8601Duration(text) }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return false }
        let unit = text.dropFirst(digits.count).trimmingLeadingSpaces()
        return ["", "ms", "msec", "us", "usec", "s", "sec", "m", "min", "h", "hr"].contains(unit)
    }

    /// An ISO 8601 duration as Pacemaker 2.1 reads it (`iso8601 --duration`): `P`, then whole numbers each with
    /// a designator Y, M, W, D, H or S, in any order, `T` anywhere (M after it is minutes, before it months);
    /// `PT` is zero. Stricter ISO 8601 (order, one `T`, `PT10S` for seconds) is not required: `P10S` is 10 s.
    static func isISO8601Duration(_ text: String) -> Bool {
        var rest = Substring(text.dropFirst())  // "P"
        guard !rest.isEmpty else { return false }
        while let first = rest.first {
            if first == "T" {
                rest = rest.dropFirst()
                continue
            }
            let number = rest.prefix { $0.isASCII && $0.isNumber }
            guard !number.isEmpty else { return false }
            rest = rest.dropFirst(number.count)
            guard let designator = rest.first, "YMWDHS".contains(designator) else { return false }
            rest = rest.dropFirst()
        }
        return true
    }

    /// The address family of `text` (4 or 6), or nil if it is not an IP address.
    public static func ipVersion(_ text: String) -> Int? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return 4 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return 6 }
        return nil
    }

    /// The first unsafe character of `text` (a control character such as a newline), if any.
    public static func unsafeCharacter(in text: String) -> Unicode.Scalar? {
        text.unicodeScalars.first { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }
    }
}

extension Substring {
    fileprivate func trimmingLeadingSpaces() -> Substring { drop { $0 == " " } }
}

/// One validation pass over an id-assigned configuration.
private struct Checker {
    let config: Configuration
    var problems: [ValidationProblem] = []

    init(config: Configuration) { self.config = config }

    mutating func add(_ code: String, _ object: String, _ message: String) {
        problems.append(ValidationProblem(code: code, object: object, message: message))
    }

    mutating func warn(_ code: String, _ object: String, _ message: String) {
        problems.append(ValidationProblem(code: code, object: object, message: message, severity: .warning))
    }

    mutating func checkMetaNames(_ sets: [AttributeSet], _ object: String) {
        for pair in sets.allPairs where !Validator.knownMeta.contains(pair.name) {
            warn("unknown-meta", object, "meta attribute '\(pair.name)' is not one Pacemaker reads (a typo?)")
        }
    }

    mutating func run() {
        checkIDs()
        var resourceKinds: [String: String] = [:]
        for r in config.allResources {
            if case .opaque(let o) = r {
                for d in o.definedIDs where OpaqueXML.resourceTags.contains(d.element) {
                    resourceKinds[d.id] = d.element
                }
            } else if let id = r.id {
                resourceKinds[id] = r.elementName
            }
        }
        for r in config.resources { checkResource(r, parent: nil) }
        checkConstraints(resourceKinds)
        checkOrderCycles()
        checkSets(config.properties, "cluster_property_set", owner: "properties")
        checkSets(config.resourceDefaults ?? [], "meta_attributes", owner: "rsc_defaults")
        checkSets(config.operationDefaults ?? [], "meta_attributes", owner: "op_defaults")
        for set in config.operationDefaults ?? [] where set.verbatim == nil {
            for pair in set.nvpairs where ["timeout", "interval"].contains(pair.name) {
                checkDuration(pair.value ?? "", "op_defaults", pair.name)
            }
        }
        for node in config.nodes where node.verbatim == nil {
            let object = "node '\(node.id)'"
            checkText(node.uname, object, "uname")
            if node.uname.isEmpty { add("missing-value", object, "has no name (uname)") }
            checkSets(node.attributes, "instance_attributes", owner: object)
            checkSets(node.utilization, "utilization", owner: object)
        }
        checkAlerts()
        checkFencing(resourceKinds)
    }

    // MARK: ids and text

    mutating func checkIDs() {
        var seen: [String: String] = [:]
        // Ids derived from a bad id (`1vip-monitor-interval-5s` from `1vip`) would only repeat its problem.
        var bad: [String] = []
        for entry in config.definedIDs() {
            if bad.contains(where: { entry.id.hasPrefix($0) && entry.id != $0 }) { continue }
            let before = problems.count
            defer { if problems.count > before { bad.append(entry.id) } }
            // Node ids are not XML IDs: they only need to be unique among nodes (a remote node's id is the id of
            // the primitive that runs its connection).
            let key = entry.element == "node" ? "node\u{0}" + entry.id : entry.id
            if let previous = seen[key] {
                add("duplicate-id", entry.object, "id '\(entry.id)' is already used by \(previous)")
            } else {
                seen[key] = entry.object
            }
            if let c = Validator.unsafeCharacter(in: entry.id) {
                add("unsafe-character", entry.object, "id contains the control character U+\(hex(c))")
            } else if entry.element != "node" && !Validator.isValidID(entry.id) {
                // Node ids are plain text in the schema (corosync's numeric ids), every other id is an XML ID.
                add(
                    "invalid-id", entry.object,
                    "'\(entry.id)' is not a valid id (start with a letter or '_', then letters, digits, '_', '-', '.')")
            }
            if entry.id.count > Validator.maximumIDLength {
                add(
                    "too-long", entry.object,
                    "id is \(entry.id.count) characters long (at most \(Validator.maximumIDLength))")
            }
        }
    }

    func hex(_ c: Unicode.Scalar) -> String {
        let digits = String(c.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    mutating func checkText(_ value: String, _ object: String, _ name: String) {
        if let c = Validator.unsafeCharacter(in: value) {
            add("unsafe-character", object, "\(name) contains the control character U+\(hex(c))")
        }
        if value.count > Validator.maximumValueLength {
            add(
                "too-long", object,
                "\(name) is \(value.count) characters long (at most \(Validator.maximumValueLength))")
        }
    }

    mutating func checkSets(_ sets: [AttributeSet], _ tag: String, owner: String) {
        for set in sets where set.verbatim == nil {
            if let score = set.score, !Validator.isValidScore(score) {
                add("invalid-score", owner, "\(tag) score '\(score)' is not a score (an integer or [+-]INFINITY)")
            }
            for pair in set.nvpairs {
                if pair.name.isEmpty { add("missing-value", owner, "a \(tag) entry has an empty name") }
                checkText(pair.name, owner, "\(tag) name '\(pair.name)'")
                checkText(pair.value ?? "", owner, "\(tag) '\(pair.name)'")
            }
        }
    }

    mutating func checkDuration(_ value: String, _ object: String, _ name: String) {
        if !Validator.isValidDuration(value) {
            add("invalid-duration", object, "\(name) '\(value)' is not a duration (like 10s, 1m, 500ms or PT10S)")
        }
    }

    mutating func checkScore(_ value: String?, _ object: String, _ name: String = "score") {
        if let value, !Validator.isValidScore(value) {
            add(
                "invalid-score", object,
                "\(name) '\(value)' is not a score (an integer, INFINITY, +INFINITY or -INFINITY)")
        }
    }

    mutating func checkRole(_ value: String?, _ object: String, _ name: String) {
        if let value, !Validator.roles.contains(value) {
            add("invalid-role", object, "\(name) '\(value)' is not a role (Started, Stopped, Promoted, Unpromoted)")
        }
    }

    // MARK: resources

    mutating func checkResource(_ r: Resource, parent: Resource?) {
        switch r {
        case .primitive(let p):
            guard p.verbatim == nil else { return }
            checkPrimitive(p, parent: parent)
        case .group(let g):
            guard g.verbatim == nil else { return }
            let object = "group '\(g.id)'"
            if case .group? = parent { add("invalid-nesting", object, "is inside group '\(parent?.id ?? "")'") }
            if g.members.isEmpty { add("empty-group", object, "has no members") }
            for member in g.members {
                switch member {
                case .primitive: break
                case .opaque: break
                default:
                    add(
                        "invalid-nesting", object,
                        "member \(member.elementName) '\(member.id ?? "")' is not a primitive (a group holds only primitives)"
                    )
                }
                checkResource(member, parent: r)
            }
            checkSets(g.metaAttributes, "meta_attributes", owner: object)
            checkMetaNames(g.metaAttributes, object)
            checkSets(g.instanceAttributes, "instance_attributes", owner: object)
            checkCloneOnlyMeta(g.metaAttributes, object, parent: parent, exempt: ["ordered"])
        case .clone(let c):
            guard c.verbatim == nil else { return }
            let object = "clone '\(c.id)'"
            if case .clone(let inner) = c.child {
                add("clone-of-clone", object, "clones clone '\(inner.id)' (a clone holds a primitive or a group)")
            }
            if parent != nil {
                add("invalid-nesting", object, "is inside \(parent!.elementName) '\(parent!.id ?? "")'")
            }
            checkSets(c.metaAttributes, "meta_attributes", owner: object)
            checkMetaNames(c.metaAttributes, object)
            checkSets(c.instanceAttributes, "instance_attributes", owner: object)
            for pair in c.metaAttributes.allPairs {
                if ["interleave", "globally-unique", "promotable", "ordered", "notify"].contains(pair.name),
                    !CIBBoolean.isBoolean(pair.value ?? "")
                {
                    add("invalid-value", object, "meta attribute \(pair.name) '\(pair.value ?? "")' is not a boolean")
                }
                if ["clone-max", "clone-node-max", "clone-min", "promoted-max", "promoted-node-max"].contains(
                    pair.name),
                    Int(pair.value ?? "").map({ $0 < 0 }) ?? true
                {
                    add(
                        "invalid-value", object,
                        "meta attribute \(pair.name) '\(pair.value ?? "")' is not a non-negative integer")
                }
            }
            checkResource(c.child, parent: r)
        case .opaque:
            return
        }
    }

    /// - Parameter exempt: names that do mean something on this kind of resource (`ordered` on a group: whether
    ///   members start one after the other).
    mutating func checkCloneOnlyMeta(
        _ sets: [AttributeSet], _ object: String, parent: Resource?, exempt: Set<String> = []
    ) {
        for pair in sets.allPairs where Validator.cloneOnlyMeta.contains(pair.name) && !exempt.contains(pair.name) {
            let hint =
                if case .clone(let c)? = parent {
                    "set it on clone '\(c.id)' instead"
                } else {
                    "it only means something on a clone"
                }
            // Pacemaker accepts it (and ignores it): suspicious, not wrong.
            warn("clone-meta-on-non-clone", object, "meta attribute '\(pair.name)' has no effect here: \(hint)")
        }
    }

    mutating func checkPrimitive(_ p: Primitive, parent: Resource?) {
        let object = "primitive '\(p.id)'"
        if let agent = p.agent {
            if !ResourceClass.known.contains(agent.resourceClass) {
                add(
                    "unknown-class", object,
                    "agent class '\(agent.resourceClass)' is not one of ocf, systemd, lsb, service, stonith")
            }
            if agent.resourceClass == .ocf && agent.provider == nil {
                add("missing-provider", object, "an ocf agent needs a provider (ocf:provider:type)")
            }
            if agent.resourceClass != .ocf && agent.provider != nil {
                add("unexpected-provider", object, "only ocf agents have a provider")
            }
            checkText(agent.type, object, "agent type")
            if agent.type.isEmpty { add("missing-value", object, "agent type is empty") }
        } else {
            add("missing-agent", object, "has no agent")
        }
        if let d = p.description { checkText(d, object, "description") }
        checkSets(p.instanceAttributes, "instance_attributes", owner: object)
        checkSets(p.metaAttributes, "meta_attributes", owner: object)
        checkMetaNames(p.metaAttributes, object)
        checkSets(p.utilization, "utilization", owner: object)
        checkCloneOnlyMeta(p.metaAttributes, object, parent: parent)
        var seenOps: Set<String> = []
        for op in p.operations where op.verbatim == nil {
            let opObject = "op '\(op.id ?? op.name)'"
            if op.name.isEmpty { add("missing-value", opObject, "has no name") }
            checkText(op.name, opObject, "name")
            checkDuration(op.interval, opObject, "interval")
            if let t = op.timeout { checkDuration(t, opObject, "timeout") }
            checkRole(op.role, opObject, "role")
            if let onFail = op.onFail,
                !["ignore", "block", "stop", "restart", "standby", "fence", "demote"].contains(onFail)
            {
                add(
                    "invalid-value", opObject,
                    "on-fail '\(onFail)' is not one of ignore, block, stop, restart, standby, fence, demote")
            }
            for pair in op.otherAttributes { checkText(pair.value ?? "", opObject, pair.name) }
            let key = "\(op.name)/\(op.interval)/\(op.role ?? "")"
            if !seenOps.insert(key).inserted {
                add("duplicate-operation", object, "has two '\(op.name)' operations with interval \(op.interval)")
            }
        }
        if let agent = p.agent, agent.resourceClass == .ocf, agent.provider == "heartbeat",
            agent.type == "IPaddr2" || agent.type == "IPaddr"
        {
            checkAddress(p, object, dottedNetmaskAllowed: agent.type == "IPaddr")
        }
    }

    mutating func checkAddress(_ p: Primitive, _ object: String, dottedNetmaskAllowed: Bool) {
        guard let ip = p.instanceAttributes.value(of: "ip") else {
            // Pacemaker accepts the configuration; the agent fails when it starts.
            warn("missing-parameter", object, "parameter 'ip' is required by \(p.agent?.description ?? "") (it will fail to start)")
            return
        }
        let version = Validator.ipVersion(ip)
        if version == nil { add("invalid-address", object, "parameter ip '\(ip)' is not an IPv4 or IPv6 address") }
        guard let mask = p.instanceAttributes.value(of: "cidr_netmask") else { return }
        if dottedNetmaskAllowed, Validator.ipVersion(mask) == 4 { return }
        let limit = version == 6 ? 128 : 32
        if let n = Int(mask), mask.allSatisfy(\.isNumber), (0...limit).contains(n) { return }
        add("invalid-prefix", object, "parameter cidr_netmask '\(mask)' is not a prefix length (0 to \(limit))")
    }

    // MARK: constraints

    mutating func checkReference(_ id: String?, _ kinds: [String: String], _ object: String, _ name: String) {
        guard let id else { return }
        if kinds[id] == nil { add("unknown-reference", object, "\(name) '\(id)' is not a resource") }
    }

    mutating func checkResourceSets(_ sets: [ResourceSet], _ kinds: [String: String], _ object: String) {
        for set in sets where set.verbatim == nil {
            if set.resources.isEmpty { add("empty-set", object, "resource set '\(set.id ?? "")' is empty") }
            for ref in set.resources { checkReference(ref, kinds, object, "resource set member") }
            checkScore(set.option("score"), object, "resource set score")
            checkRole(set.option("role"), object, "resource set role")
            if let action = set.option("action"), !Validator.actions.contains(action) {
                add(
                    "invalid-value", object,
                    "resource set action '\(action)' is not one of start, stop, promote, demote")
            }
        }
    }

    mutating func checkConstraints(_ kinds: [String: String]) {
        for constraint in config.constraints {
            let object = "\(constraint.elementName) '\(constraint.id ?? "")'"
            switch constraint {
            case .order(let c) where c.verbatim == nil:
                if c.sets.isEmpty {
                    if c.first == nil || c.then == nil {
                        add("missing-value", object, "needs first and then (or sets)")
                    }
                    checkReference(c.first, kinds, object, "first")
                    checkReference(c.then, kinds, object, "then")
                    if let f = c.first, f == c.then { add("self-reference", object, "orders '\(f)' after itself") }
                }
                for (name, action) in [("first-action", c.firstAction), ("then-action", c.thenAction)] {
                    if let action, !Validator.actions.contains(action) {
                        add("invalid-value", object, "\(name) '\(action)' is not one of start, stop, promote, demote")
                    }
                }
                if let s = c.symmetrical, !CIBBoolean.isBoolean(s) {
                    add("invalid-value", object, "symmetrical '\(s)' is not a boolean")
                }
                checkScore(c.score, object)
                checkResourceSets(c.sets, kinds, object)
            case .colocation(let c) where c.verbatim == nil:
                if c.sets.isEmpty {
                    if c.resource == nil || c.with == nil {
                        add("missing-value", object, "needs resource and with (or sets)")
                    }
                    checkReference(c.resource, kinds, object, "resource")
                    checkReference(c.with, kinds, object, "with")
                    if let r = c.resource, r == c.with { add("self-reference", object, "colocates '\(r)' with itself") }
                }
                checkScore(c.score, object)
                checkRole(c.resourceRole, object, "resource role")
                checkRole(c.withRole, object, "with role")
                checkResourceSets(c.sets, kinds, object)
            case .location(let c) where c.verbatim == nil:
                checkReference(c.resource, kinds, object, "resource")
                checkScore(c.score, object)
                if let node = c.node { checkText(node, object, "node") }
                if c.rules.isEmpty && c.node == nil && c.sets.isEmpty {
                    add("missing-value", object, "needs a node or rules")
                }
                for rule in c.rules where rule.verbatim == nil {
                    checkScore(rule.score, object, "rule score")
                    if rule.expressions.isEmpty {
                        add("missing-value", object, "rule '\(rule.id ?? "")' has no expressions")
                    }
                    for e in rule.expressions {
                        let ops = ["lt", "gt", "lte", "gte", "eq", "ne", "defined", "not_defined"]
                        if !ops.contains(e.operation) {
                            add(
                                "invalid-value", object,
                                "rule operation '\(e.operation)' is not one of \(ops.joined(separator: ", "))")
                        }
                        checkText(e.value ?? "", object, "rule value")
                    }
                }
                checkResourceSets(c.sets, kinds, object)
            default:
                continue
            }
        }
    }

    /// Reports each cycle of mandatory orders once; nodes are (resource, action) pairs.
    mutating func checkOrderCycles() {
        var edges: [String: [(String, String)]] = [:]  // node -> [(next node, constraint id)]
        func link(_ a: String, _ b: String, _ id: String) { edges[a, default: []].append((b, id)) }
        for case .order(let c) in config.constraints where c.verbatim == nil && c.isMandatory {
            if c.sets.isEmpty, let f = c.first, let t = c.then {
                link("\(f) \(c.firstAction ?? "start")", "\(t) \(c.thenAction ?? c.firstAction ?? "start")", c.id ?? "")
            } else {
                // Sets are ordered one after the other; members of a sequential set one after the other.
                var previous: [String] = []
                for set in c.sets where set.verbatim == nil {
                    let action = set.option("action") ?? "start"
                    let members = set.resources.map { "\($0) \(action)" }
                    for p in previous { for m in members { link(p, m, c.id ?? "") } }
                    let sequential = set.option("sequential").map(CIBBoolean.isTrue) ?? true
                    if sequential { for (a, b) in zip(members, members.dropFirst()) { link(a, b, c.id ?? "") } }
                    previous = sequential ? Array(members.suffix(1)) : members
                }
            }
        }
        // Iterative DFS with colours; each back edge closes one reported cycle.
        var colour: [String: Int] = [:]
        var reported: Set<[String]> = []
        for start in edges.keys.sorted() where colour[start] == nil {
            var stack: [(node: String, next: Int)] = [(start, 0)]
            var path: [String] = [start]
            var via: [String] = []
            colour[start] = 1
            while let top = stack.last {
                let outgoing = edges[top.node] ?? []
                if top.next < outgoing.count {
                    stack[stack.count - 1].next += 1
                    let (next, id) = outgoing[top.next]
                    if colour[next] == 1, let i = path.firstIndex(of: next) {
                        let cycle = Array(path[i...]) + [next]
                        let ids = Array(via[i...]) + [id]
                        let key = Array(Set(cycle)).sorted()
                        if reported.insert(key).inserted {
                            let text = cycle.map { n in n.split(separator: " ").reversed().joined(separator: " ") }
                                .joined(separator: " -> ")
                            add(
                                "order-cycle", "rsc_order '\(ids.last ?? "")'",
                                "mandatory orders form a cycle: \(text) (constraints \(ids.joined(separator: ", ")))")
                        }
                    } else if colour[next] == nil {
                        colour[next] = 1
                        stack.append((next, 0))
                        path.append(next)
                        via.append(id)
                    }
                } else {
                    colour[top.node] = 2
                    stack.removeLast()
                    path.removeLast()
                    if !via.isEmpty { via.removeLast() }
                }
            }
        }
    }

    // MARK: alerts, fencing

    mutating func checkAlerts() {
        for alert in config.alerts ?? [] where alert.verbatim == nil {
            let object = "alert '\(alert.id)'"
            if alert.path.isEmpty { add("missing-value", object, "has no path") }
            checkText(alert.path, object, "path")
            for kind in alert.select ?? [] where !Alert.selectKinds.contains(kind) {
                add("invalid-value", object, "select '\(kind)' is not one of nodes, fencing, resources, attributes")
            }
            checkSets(alert.metaAttributes, "meta_attributes", owner: object)
            checkSets(alert.instanceAttributes, "instance_attributes", owner: object)
            for r in alert.recipients where r.verbatim == nil {
                let ro = "recipient '\(r.id ?? "")'"
                if r.value.isEmpty { add("missing-value", ro, "has no value") }
                checkText(r.value, ro, "value")
                checkSets(r.metaAttributes, "meta_attributes", owner: ro)
                checkSets(r.instanceAttributes, "instance_attributes", owner: ro)
            }
        }
    }

    mutating func checkFencing(_ kinds: [String: String]) {
        let stonith = Set(
            config.allResources.compactMap { r -> String? in
                if case .primitive(let p) = r, p.agent?.resourceClass == .stonith { return p.id }
                return nil
            })
        for level in config.fencingLevels ?? [] where level.verbatim == nil {
            let object = "fencing-level '\(level.id ?? "")'"
            if let n = Int(level.index), (1...9).contains(n) {
            } else {
                add("invalid-value", object, "index '\(level.index)' is not a level from 1 to 9")
            }
            if level.devices.isEmpty { add("missing-value", object, "has no devices") }
            for device in level.devices where !stonith.contains(device) {
                add("unknown-reference", object, "device '\(device)' is not a stonith resource")
            }
        }
    }
}
