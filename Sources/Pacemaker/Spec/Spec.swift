import Foundation
import Yams

/// A spec file read into the model: the configuration it describes (with every id assigned by pcs's
/// conventions), the problems found while resolving it, and where each object is written.
public struct Spec: Hashable, Sendable {
    /// The configuration the spec describes; every id is assigned.
    public var configuration: Configuration
    /// Problems found while resolving the spec (group members that do not exist, a resource in two groups).
    /// `Validator.validate(_:)` reports them together with the model's problems.
    public var problems: [ValidationProblem]
    /// Where each object is written, keyed by the object as validation messages name it (`primitive 'vip'`).
    public var locations: [String: SpecLocation]

    /// Creates a spec from a configuration (ids are assigned by pcs's conventions where missing).
    ///
    /// This is the CIB -> spec direction: `SpecFile.yaml(_:)` then writes what the spec format can express.
    public init(from configuration: Configuration) {
        self.configuration = configuration.assigningIDs()
        self.problems = []
        self.locations = [:]
    }

    init(configuration: Configuration, problems: [ValidationProblem], locations: [String: SpecLocation]) {
        self.configuration = configuration
        self.problems = problems
        self.locations = locations
    }
}

/// Reads and writes spec files (YAML; JSON is accepted too, as the YAML subset it is).
public enum SpecFile {
    /// Reads the spec at `path`.
    /// - Throws: `SpecLoadError` naming the file, line, column and key of every problem found.
    public static func load(path: String, extraSections: Set<String> = []) throws -> Spec {
        try parse(try readText(path), file: path, extraSections: extraSections)
    }

    /// The largest spec file read, in bytes.
    public static let maximumSize = 8 * 1024 * 1024
    /// The most YAML nodes a spec may expand to, aliases counted as many times as they are used.
    public static let maximumNodes = 1_000_000
    /// The deepest nesting of YAML collections.
    public static let maximumDepth = 64

    /// The text of the spec file at `path`; a file larger than ``maximumSize`` is refused before it is read.
    public static func readText(_ path: String) throws -> String {
        func failure(_ message: String, _ underlying: String? = nil) -> SpecLoadError {
            SpecLoadError(
                code: "io", issues: [SpecIssue(location: SpecLocation(file: path, line: 1, column: 1), path: "", message: message)],
                underlying: underlying)
        }
        var info = stat()
        if stat(path, &info) == 0, Int(info.st_size) > maximumSize {
            throw failure("the spec is \(info.st_size) bytes; specs larger than \(maximumSize / 1024 / 1024) MiB are refused")
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw failure("cannot read the file", "\(error)")
        }
    }

    /// Reads a spec from text; `file` names it in messages.
    /// - Parameter extraSections: top-level keys another reader handles (khactl's `cluster` and `profile`);
    ///   they are accepted and skipped here.
    /// - Throws: `SpecLoadError` naming the file, line, column and key of every problem found.
    public static func parse(_ text: String, file: String = "<input>", extraSections: Set<String> = []) throws -> Spec {
        try parseDocument(text, file: file, extraSections: extraSections).spec
    }

    /// ``parse(_:file:extraSections:)``, also giving the composed document, so a reader of the extra sections
    /// does not parse the text a second time.
    package static func parseDocument(
        _ text: String, file: String = "<input>", extraSections: Set<String> = []
    ) throws -> (spec: Spec, root: YNode?) {
        let root: YNode?
        do {
            try checkLimits(text, file: file)
            root = try Yams.compose(yaml: text)
            if let root { try checkExpansion(root, file: file) }
        } catch let error as YamlError {
            throw SpecLoadError(code: "syntax", issues: [syntaxIssue(error, file: file)], underlying: "\(error)")
        } catch {
            throw SpecLoadError(
                code: "syntax",
                issues: [
                    SpecIssue(location: SpecLocation(file: file, line: 1, column: 1), path: "", message: "\(error)")
                ])
        }
        var compiler = SpecCompiler(reader: SpecReader(file: file), extraSections: extraSections)
        let spec = compiler.compile(root)
        if !compiler.reader.issues.isEmpty {
            throw SpecLoadError(code: "structure", issues: compiler.reader.issues)
        }
        return (spec, root)
    }

    /// Refuses text over ``maximumSize`` and nesting deeper than ``maximumDepth`` before the YAML parser sees it
    /// (a 10,000-deep document would take the recursive composer down): flow collections are counted by their
    /// brackets outside quotes, block collections by indentation (two columns a level at the least).
    static func checkLimits(_ text: String, file: String) throws {
        func refuse(_ line: Int, _ message: String) -> SpecLoadError {
            SpecLoadError(code: "limits", issues: [SpecIssue(location: SpecLocation(file: file, line: line, column: 1), path: "", message: message)])
        }
        if text.utf8.count > maximumSize {
            throw refuse(1, "the spec is \(text.utf8.count) bytes; specs larger than \(maximumSize / 1024 / 1024) MiB are refused")
        }
        var depth = 0
        var line = 1
        var indentation = 0
        var atLineStart = true
        var quote: UInt8? = nil
        var comment = false
        for byte in text.utf8 {
            if byte == 0x0a {
                line += 1
                atLineStart = true
                indentation = 0
                comment = false
                if quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") { continue }
                continue
            }
            if atLineStart {
                if byte == 0x20 || byte == UInt8(ascii: "-") {
                    indentation += 1
                    if indentation > 2 * maximumDepth {
                        throw refuse(line, "the spec nests deeper than \(maximumDepth) levels (indented more than \(2 * maximumDepth) columns)")
                    }
                    continue
                }
                atLineStart = false
            }
            if comment { continue }
            if let open = quote {
                if byte == open { quote = nil }
                continue
            }
            switch byte {
            case UInt8(ascii: "#"): comment = true
            case UInt8(ascii: "'"), UInt8(ascii: "\""): quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maximumDepth { throw refuse(line, "the spec nests deeper than \(maximumDepth) levels") }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
    }

    /// Refuses a tree that expands to more than ``maximumNodes`` nodes: an alias is counted as many times as it is
    /// used, so an alias bomb ("billion laughs") is stopped after at most that many steps, before any reader walks it.
    static func checkExpansion(_ root: YNode, file: String) throws {
        var budget = maximumNodes
        func walk(_ node: YNode) -> Bool {
            budget -= 1
            if budget < 0 { return false }
            switch node {
            case .scalar, .alias: return true
            case .sequence(let sequence): return sequence.allSatisfy(walk)
            case .mapping(let mapping): return mapping.allSatisfy { walk($0.key) && walk($0.value) }
            }
        }
        guard walk(root) else {
            throw SpecLoadError(
                code: "limits",
                issues: [SpecIssue(
                    location: SpecLocation(file: file, line: 1, column: 1), path: "",
                    message: "the spec expands to more than \(maximumNodes) YAML nodes (aliases counted where they are used); refused")])
        }
    }

    static func syntaxIssue(_ error: YamlError, file: String) -> SpecIssue {
        func at(_ mark: Mark, _ message: String) -> SpecIssue {
            SpecIssue(
                location: SpecLocation(file: file, line: mark.line, column: mark.column), path: "", message: message)
        }
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return at(mark, "YAML syntax error: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return at(context.mark, "duplicate key '\(duplicates.joined(separator: "', '"))'")
        default:
            return SpecIssue(
                location: SpecLocation(file: file, line: 1, column: 1), path: "", message: "YAML error: \(error)")
        }
    }
}

/// Turns a composed YAML tree into a `Spec`.
struct SpecCompiler {
    var reader: SpecReader
    /// Top-level keys handled by another reader.
    var extraSections: Set<String> = []
    var problems: [ValidationProblem] = []
    var locations: [String: SpecLocation] = [:]
    /// Group member references by name, resolved after all top-level resources are read.
    var references: [(group: String, member: String, node: YNode)] = []
    /// How many alerts got a default id so far.
    var defaultAlertIDs = 0

    static let topKeys: Set<String> = [
        "properties", "defaults", "nodes", "resources", "constraints", "alerts", "fencing-topology", "xml",
    ]
    static let primitiveKeys: Set<String> = [
        "id", "agent", "description", "params", "meta", "utilization", "operations", "operations-id", "clone",
        "default-monitor",
    ]
    static let groupKeys: Set<String> = ["group", "description", "resources", "meta", "params", "clone"]
    static let cloneKeys: Set<String> = ["clone", "resource", "description", "meta", "params"]
    static let operationKeys: Set<String> = [
        "id", "name", "interval", "timeout", "role", "on-fail", "start-delay", "interval-origin", "record-pending",
        "enabled", "description",
    ]

    mutating func compile(_ root: YNode?) -> Spec {
        var config = Configuration()
        guard let root else { return Spec(configuration: config, problems: [], locations: [:]) }
        guard let entries = reader.mapping(root, "", allowed: Self.topKeys.union(extraSections)) else {
            return Spec(configuration: config, problems: [], locations: [:])
        }
        var constraintNodes: [YNode] = []
        for (key, _, value) in entries {
            switch key {
            case "properties":
                locations["properties"] = reader.location(value)
                config.properties = orderedSet(value, key)
            case "defaults":
                guard let d = reader.mapping(value, key, allowed: ["resources", "operations"]) else { continue }
                for (k, _, v) in d {
                    let set = orderedSet(v, "defaults.\(k)")
                    locations[k == "resources" ? "rsc_defaults" : "op_defaults"] = reader.location(v)
                    if k == "resources" { config.resourceDefaults = set } else { config.operationDefaults = set }
                }
            case "nodes":
                for (i, item) in (reader.sequence(value, key) ?? []).enumerated() {
                    if let verbatim = verbatimItem(item, "nodes[\(i)]") {
                        if let verbatim { config.opaqueNodes.append(verbatim) }
                    } else if let n = node(item, "nodes[\(i)]") {
                        config.nodes.append(n)
                    }
                }
            case "xml":
                // Sections of the configuration the spec does not type (acls, tags, ...), verbatim.
                for (i, item) in (reader.sequence(value, key) ?? []).enumerated() {
                    guard let text = reader.string(item, "xml[\(i)]") else { continue }
                    do {
                        config.otherSections.append(try OpaqueXML(xml: text))
                    } catch {
                        reader.issue(item, "xml[\(i)]", "not one well-formed XML element")
                    }
                }
            case "resources":
                for (i, item) in (reader.sequence(value, key) ?? []).enumerated() {
                    if let r = resource(item, "resources[\(i)]", topLevel: true) { config.resources.append(r) }
                }
            case "constraints":
                for (i, item) in (reader.sequence(value, key) ?? []).enumerated() {
                    if let c = constraint(item, "constraints[\(i)]") {
                        config.constraints.append(c)
                        constraintNodes.append(item)
                    }
                }
            case "alerts":
                config.alerts = (reader.sequence(value, key) ?? []).enumerated().compactMap {
                    alert($1, "alerts[\($0)]")
                }
            case "fencing-topology":
                config.fencingLevels = (reader.sequence(value, key) ?? []).enumerated().compactMap {
                    fencingLevel($1, "fencing-topology[\($0)]")
                }
            default:
                break
            }
        }
        resolveReferences(&config)
        config = config.assigningIDs()
        for (constraint, node) in zip(config.constraints, constraintNodes) {
            if let id = constraint.id { locations["\(constraint.elementName) '\(id)'"] = reader.location(node) }
        }
        return Spec(configuration: config, problems: problems, locations: locations)
    }

    // MARK: - Resources

    /// An object's attribute sets of one kind. A mapping is one set with khactl's (pcs's) ids; a list is several
    /// sets, each `{id?, score?, pairs}` (pairs a mapping, or a list of `{name, value?, id?}` for ids off the
    /// convention or a name given twice) or `{xml: "<...>"}`, a set kept verbatim (one with rules, say).
    mutating func attributeSets(_ node: YNode?, _ path: String, sorted: Bool) -> [AttributeSet] {
        guard let node else { return [] }
        guard let items = node.sequence else {
            let pairs = reader.pairs(node, path)
            // pcs sorts resource options and meta attributes by name when it writes them.
            return pairs.isEmpty ? [] : [AttributeSet(nvpairs: sorted ? pairs.sorted { $0.name < $1.name } : pairs)]
        }
        var sets: [AttributeSet] = []
        for (i, item) in items.enumerated() {
            let itemPath = "\(path)[\(i)]"
            guard let entries = reader.mapping(item, itemPath, allowed: ["id", "score", "pairs", "xml"]) else { continue }
            if let (_, _, xmlNode) = entries.first(where: { $0.0 == "xml" }) {
                if entries.count > 1 {
                    reader.issue(item, itemPath, "a set given as xml has no other keys")
                    continue
                }
                guard let text = reader.string(xmlNode, SpecReader.join(itemPath, "xml")) else { continue }
                do {
                    sets.append(AttributeSet(verbatim: try OpaqueXML(xml: text)))
                } catch {
                    reader.issue(xmlNode, SpecReader.join(itemPath, "xml"), "not one well-formed XML element")
                }
                continue
            }
            var set = AttributeSet()
            for (key, _, value) in entries {
                let sub = SpecReader.join(itemPath, key)
                switch key {
                case "id": set.id = reader.string(value, sub)
                case "score": set.score = reader.string(value, sub)
                case "pairs": set.nvpairs = pairList(value, sub)
                default: break
                }
            }
            sets.append(set)
        }
        return sets
    }

    /// A set's pairs: a mapping, or a list of `{name, value?, id?}`.
    mutating func pairList(_ node: YNode, _ path: String) -> [NVPair] {
        guard let items = node.sequence else { return reader.pairs(node, path) }
        var pairs: [NVPair] = []
        for (i, item) in items.enumerated() {
            let itemPath = "\(path)[\(i)]"
            guard let entries = reader.mapping(item, itemPath, allowed: ["name", "value", "id"]) else { continue }
            guard reader.require(["name"], in: entries, node: item, itemPath) else { continue }
            var pair = NVPair(name: "", value: nil)
            for (key, _, value) in entries {
                let sub = SpecReader.join(itemPath, key)
                switch key {
                case "name": pair.name = reader.string(value, sub) ?? ""
                case "value": pair.value = reader.string(value, sub)
                case "id": pair.id = reader.string(value, sub)
                default: break
                }
            }
            pairs.append(pair)
        }
        return pairs
    }

    mutating func sortedSet(_ node: YNode?, _ path: String) -> [AttributeSet] {
        attributeSets(node, path, sorted: true)
    }

    mutating func orderedSet(_ node: YNode, _ path: String) -> [AttributeSet] {
        attributeSets(node, path, sorted: false)
    }

    /// An item given as `{xml: "<element .../>"}`, kept verbatim: `.none` when the item is not one, `.some(nil)`
    /// (with an issue) when its XML is bad.
    mutating func verbatimItem(_ node: YNode, _ path: String) -> OpaqueXML?? {
        guard let mapping = node.mapping, mapping.count == 1, let value = mapping["xml"] else { return .none }
        let sub = SpecReader.join(path, "xml")
        guard let text = reader.string(value, sub) else { return .some(nil) }
        do {
            return .some(try OpaqueXML(xml: text))
        } catch {
            reader.issue(value, sub, "not one well-formed XML element")
            return .some(nil)
        }
    }

    mutating func resource(_ node: YNode, _ path: String, topLevel: Bool) -> Resource? {
        if let verbatim = verbatimItem(node, path) { return verbatim.map { .opaque($0) } }
        guard let probe = node.mapping else {
            reader.issue(node, path, "expected a mapping, found \(reader.kind(node))")
            return nil
        }
        if probe["group"] != nil { return group(node, path) }
        if probe["resource"] != nil && probe["agent"] == nil { return explicitClone(node, path) }
        return primitive(node, path)
    }

    mutating func primitive(_ node: YNode, _ path: String) -> Resource? {
        guard let entries = reader.mapping(node, path, allowed: Self.primitiveKeys) else { return nil }
        guard reader.require(["id", "agent"], in: entries, node: node, path) else { return nil }
        var p = Primitive(id: "", agent: nil)
        var cloneNode: (YNode, YNode)?
        var defaultMonitor = true
        var operationNodes: [(Operation, YNode)] = []
        for (key, keyNode, value) in entries {
            let sub = SpecReader.join(path, key)
            switch key {
            case "id": p.id = reader.string(value, sub) ?? ""
            case "agent":
                guard let text = reader.string(value, sub) else { continue }
                if let agent = ResourceAgent(parsing: text) {
                    p.agent = agent
                } else {
                    reader.issue(
                        value, sub,
                        "'\(text)' is not an agent (expected standard:provider:type for ocf, standard:type otherwise)")
                }
            case "description": p.description = reader.string(value, sub)
            case "operations-id": p.operationsID = reader.string(value, sub)
            case "params": p.instanceAttributes = sortedSet(value, sub)
            case "meta": p.metaAttributes = sortedSet(value, sub)
            case "utilization": p.utilization = sortedSet(value, sub)
            case "operations":
                for (i, item) in (reader.sequence(value, sub) ?? []).enumerated() {
                    guard let op = operation(item, "\(sub)[\(i)]") else { continue }
                    p.operations.append(op)
                    operationNodes.append((op, item))
                }
            case "clone": cloneNode = (keyNode, value)
            case "default-monitor":
                guard let text = reader.string(value, sub) else { continue }
                if CIBBoolean.isBoolean(text) {
                    defaultMonitor = CIBBoolean.isTrue(text)
                } else {
                    reader.issue(value, sub, "'\(text)' is not a boolean (true or false)")
                }
            default: break
            }
        }
        if defaultMonitor, let agent = p.agent, !p.operations.contains(where: { $0.name == "monitor" }) {
            p.operations += AgentDefaults.monitors(for: agent)
        }
        locations["primitive '\(p.id)'"] = reader.location(node)
        for (op, opNode) in operationNodes {
            // The id the assigner will give, unless it collides (then the message has no position).
            locations["op '\(op.id ?? "\(p.id)-\(op.name)-interval-\(op.interval)")'"] = reader.location(opNode)
        }
        let resource = Resource.primitive(p)
        if let (_, value) = cloneNode { return wrapInClone(resource, value, SpecReader.join(path, "clone")) }
        return resource
    }

    mutating func operation(_ node: YNode, _ path: String) -> Operation? {
        if let verbatim = verbatimItem(node, path) {
            return verbatim.map { Operation(id: $0.id, name: "", interval: "", verbatim: $0) }
        }
        guard let entries = reader.mapping(node, path, allowed: Self.operationKeys) else { return nil }
        guard reader.require(["name"], in: entries, node: node, path) else { return nil }
        var op = Operation(name: "", interval: "0s")
        for (key, _, value) in entries {
            guard let text = reader.string(value, SpecReader.join(path, key)) else { continue }
            switch key {
            case "id": op.id = text
            case "name": op.name = text
            case "interval": op.interval = text
            case "timeout": op.timeout = text
            case "role": op.role = text
            case "on-fail": op.onFail = text
            default: op.otherAttributes.append(NVPair(name: key, value: text))
            }
        }
        return op
    }

    mutating func wrapInClone(_ child: Resource, _ node: YNode, _ path: String) -> Resource? {
        guard let entries = reader.mapping(node, path) else { return nil }
        var clone = Clone(id: "\(child.id ?? "")-clone", child: child)
        var meta: [NVPair] = []
        for (key, _, value) in entries {
            let sub = SpecReader.join(path, key)
            switch key {
            case "id": clone.id = reader.string(value, sub) ?? clone.id
            case "description": clone.description = reader.string(value, sub)
            // The clone's sets in the list form, when they are more than one set with pcs's ids.
            case "meta" where value.sequence != nil: clone.metaAttributes = attributeSets(value, sub, sorted: false)
            case "params" where value.sequence != nil: clone.instanceAttributes = attributeSets(value, sub, sorted: false)
            default:
                if let text = reader.string(value, sub) { meta.append(NVPair(name: key, value: text)) }
            }
        }
        if !meta.isEmpty { clone.metaAttributes += [AttributeSet(nvpairs: meta.sorted { $0.name < $1.name })] }
        locations["clone '\(clone.id)'"] = reader.location(node)
        return .clone(clone)
    }

    mutating func group(_ node: YNode, _ path: String) -> Resource? {
        guard let entries = reader.mapping(node, path, allowed: Self.groupKeys) else { return nil }
        var g = Group(id: "", members: [])
        var cloneNode: YNode?
        for (key, _, value) in entries {
            let sub = SpecReader.join(path, key)
            switch key {
            case "group": g.id = reader.string(value, sub) ?? ""
            case "description": g.description = reader.string(value, sub)
            // `pcs resource meta GROUP ...` keeps the order it is given (only `resource create` sorts).
            case "meta": g.metaAttributes = orderedSet(value, sub)
            case "params": g.instanceAttributes = orderedSet(value, sub)
            case "clone": cloneNode = value
            case "resources":
                for (i, item) in (reader.sequence(value, sub) ?? []).enumerated() {
                    let itemPath = "\(sub)[\(i)]"
                    if item.mapping != nil {
                        if let member = resource(item, itemPath, topLevel: false) { g.members.append(member) }
                    } else if let name = reader.string(item, itemPath) {
                        // A reference to a top-level primitive, moved into the group after all are read.
                        references.append((g.id, name, item))
                        g.members.append(.opaque(OpaqueXML(name: "reference", xml: "", id: name, definedIDs: [])))
                    }
                }
            default: break
            }
        }
        if !entries.contains(where: { $0.0 == "resources" }) {
            reader.issue(node, path, "missing required key 'resources'")
        }
        locations["group '\(g.id)'"] = reader.location(node)
        if let cloneNode { return wrapInClone(.group(g), cloneNode, SpecReader.join(path, "clone")) }
        return .group(g)
    }

    mutating func explicitClone(_ node: YNode, _ path: String) -> Resource? {
        guard let entries = reader.mapping(node, path, allowed: Self.cloneKeys) else { return nil }
        var id: String?
        var child: Resource?
        var description: String?
        var meta: [AttributeSet] = []
        var params: [AttributeSet] = []
        for (key, _, value) in entries {
            let sub = SpecReader.join(path, key)
            switch key {
            case "clone": id = reader.string(value, sub)
            case "resource": child = resource(value, sub, topLevel: false)
            case "description": description = reader.string(value, sub)
            case "meta": meta = sortedSet(value, sub)
            case "params": params = sortedSet(value, sub)
            default: break
            }
        }
        guard let child else { return nil }
        let clone = Clone(
            id: id ?? "\(child.id ?? "")-clone", description: description, child: child, metaAttributes: meta,
            instanceAttributes: params)
        locations["clone '\(clone.id)'"] = reader.location(node)
        return .clone(clone)
    }

    /// Moves top-level primitives named by group members into their group.
    mutating func resolveReferences(_ config: inout Configuration) {
        guard !references.isEmpty else { return }
        var claimedBy: [String: String] = [:]
        var moved: [String: Resource] = [:]
        for ref in references {
            if let previous = claimedBy[ref.member] {
                problems.append(
                    ValidationProblem(
                        code: "resource-in-two-groups", object: "primitive '\(ref.member)'",
                        message: "is a member of both group '\(previous)' and group '\(ref.group)'",
                        location: reader.location(ref.node)))
                continue
            }
            guard let index = config.resources.firstIndex(where: { $0.id == ref.member }) else {
                problems.append(
                    ValidationProblem(
                        code: "unknown-reference", object: "group '\(ref.group)'",
                        message: "refers to resource '\(ref.member)', which is not defined at the top level",
                        location: reader.location(ref.node)))
                continue
            }
            claimedBy[ref.member] = ref.group
            moved[ref.member] = config.resources[index]
        }
        config.resources.removeAll { r in r.id.map { moved[$0] != nil } ?? false }
        func replace(_ r: inout Resource) {
            switch r {
            case .group(var g):
                // Unresolved references (reported above) are dropped; a claimed member goes to its first group only.
                g.members = g.members.compactMap { m in
                    guard case .opaque(let o) = m, o.name == "reference" else { return m }
                    guard let id = o.id, claimedBy[id] == g.id else { return nil }
                    return moved[id]
                }
                r = .group(g)
            case .clone(var c):
                replace(&c.child)
                r = .clone(c)
            default: break
            }
        }
        for i in config.resources.indices { replace(&config.resources[i]) }
    }

    // MARK: - Constraints

    static let orderKeys: Set<String> = [
        "id", "first", "then", "first-action", "then-action", "kind", "symmetrical", "sets", "pcs-defaults",
    ]
    static let colocationKeys: Set<String> = [
        "id", "resource", "with", "score", "resource-role", "with-role", "node-attribute", "influence", "sets",
        "pcs-defaults",
    ]
    static let locationKeys: Set<String> = [
        "id", "resource", "resource-pattern", "node", "score", "role", "resource-discovery", "rules", "sets",
        "pcs-defaults",
    ]
    static let setKeys: Set<String> = [
        "id", "resources", "sequential", "require-all", "ordered", "ordering", "action", "role", "kind", "score",
    ]

    /// `pcs-defaults: false`: the constraint gets none of what pcs would add (its CIB left them out).
    mutating func pcsDefaultsFlag(_ text: String, _ node: YNode, _ path: String) -> Bool {
        guard CIBBoolean.isBoolean(text) else {
            reader.issue(node, path, "'\(text)' is not a boolean (true or false)")
            return true
        }
        return CIBBoolean.isTrue(text)
    }

    mutating func constraint(_ node: YNode, _ path: String) -> Constraint? {
        if let verbatim = verbatimItem(node, path) { return verbatim.map { .opaque($0) } }
        let keyCount = node.mapping?.count ?? 0
        guard let entries = reader.mapping(node, path, allowed: ["order", "colocation", "location"]) else {
            return nil
        }
        guard keyCount == 1, entries.count == 1, let (kind, _, value) = entries.first else {
            if keyCount != 1 {
                reader.issue(
                    node, path, "a constraint is a mapping with exactly one of the keys order, colocation, location")
            }
            return nil
        }
        let sub = SpecReader.join(path, kind)
        switch kind {
        case "order":
            guard let e = reader.mapping(value, sub, allowed: Self.orderKeys) else { return nil }
            var c = OrderConstraint()
            var pcsDefaults = true
            for (key, _, v) in e {
                let p = SpecReader.join(sub, key)
                if key == "sets" {
                    c.sets = sets(v, p)
                    continue
                }
                guard let text = reader.string(v, p) else { continue }
                switch key {
                case "pcs-defaults": pcsDefaults = pcsDefaultsFlag(text, v, p)
                case "id": c.id = text
                case "first": c.first = text
                case "then": c.then = text
                case "first-action": c.firstAction = text
                case "then-action": c.thenAction = text
                case "symmetrical": c.symmetrical = text
                case "kind":
                    if let k = OrderKind(rawValue: text) {
                        c.kind = k
                    } else {
                        reader.issue(v, p, "'\(text)' is not an order kind (expected Mandatory, Optional or Serialize)")
                    }
                default: break
                }
            }
            if c.sets.isEmpty {
                // pcs writes both actions, defaulting to start.
                guard reader.require(["first", "then"], in: e, node: value, sub) else { return nil }
                if pcsDefaults {
                    c.firstAction = c.firstAction ?? "start"
                    c.thenAction = c.thenAction ?? "start"
                }
            }
            return .order(c)
        case "colocation":
            guard let e = reader.mapping(value, sub, allowed: Self.colocationKeys) else { return nil }
            var c = ColocationConstraint()
            var pcsDefaults = true
            for (key, _, v) in e {
                let p = SpecReader.join(sub, key)
                if key == "sets" {
                    c.sets = sets(v, p)
                    continue
                }
                guard let text = reader.string(v, p) else { continue }
                switch key {
                case "id": c.id = text
                case "resource": c.resource = text
                case "with": c.with = text
                case "score": c.score = text
                case "resource-role": c.resourceRole = text
                case "with-role": c.withRole = text
                case "pcs-defaults": pcsDefaults = pcsDefaultsFlag(text, v, p)
                default: c.otherAttributes.append(NVPair(name: key, value: text))
                }
            }
            if c.sets.isEmpty {
                guard reader.require(["resource", "with"], in: e, node: value, sub) else { return nil }
            }
            // pcs always writes a score; with a role on one side it writes Started on the other.
            if pcsDefaults { c.score = c.score ?? "INFINITY" }
            if pcsDefaults, c.resourceRole != nil || c.withRole != nil {
                c.resourceRole = c.resourceRole ?? "Started"
                c.withRole = c.withRole ?? "Started"
            }
            return .colocation(c)
        default:
            guard let e = reader.mapping(value, sub, allowed: Self.locationKeys) else { return nil }
            var c = LocationConstraint()
            var pcsDefaults = true
            for (key, _, v) in e {
                let p = SpecReader.join(sub, key)
                if key == "sets" {
                    c.sets = sets(v, p)
                    continue
                }
                if key == "rules" {
                    c.rules = (reader.sequence(v, p) ?? []).enumerated().compactMap { rule($1, "\(p)[\($0)]") }
                    continue
                }
                guard let text = reader.string(v, p) else { continue }
                switch key {
                case "id": c.id = text
                case "resource": c.resource = text
                case "resource-pattern": c.resourcePattern = text
                case "node": c.node = text
                case "score": c.score = text
                case "pcs-defaults": pcsDefaults = pcsDefaultsFlag(text, v, p)
                default: c.otherAttributes.append(NVPair(name: key, value: text))
                }
            }
            if c.resource == nil && c.resourcePattern == nil && c.sets.isEmpty {
                reader.issue(value, sub, "missing required key 'resource'")
                return nil
            }
            if !e.contains(where: { $0.0 == "rules" }) {
                guard reader.require(["node"], in: e, node: value, sub) else { return nil }
                if pcsDefaults { c.score = c.score ?? "INFINITY" }
            }
            return .location(c)
        }
    }

    mutating func sets(_ node: YNode, _ path: String) -> [ResourceSet] {
        (reader.sequence(node, path) ?? []).enumerated().compactMap { i, item in
            let p = "\(path)[\(i)]"
            guard let e = reader.mapping(item, p, allowed: Self.setKeys) else { return nil }
            guard reader.require(["resources"], in: e, node: item, p) else { return nil }
            var set = ResourceSet(resources: [])
            for (key, _, v) in e {
                let sub = SpecReader.join(p, key)
                if key == "resources" {
                    set.resources = reader.strings(v, sub)
                    continue
                }
                guard let text = reader.string(v, sub) else { continue }
                if key == "id" { set.id = text } else { set.options.append(NVPair(name: key, value: text)) }
            }
            return set
        }
    }

    mutating func rule(_ node: YNode, _ path: String) -> Rule? {
        guard let e = reader.mapping(node, path, allowed: ["id", "score", "score-attribute", "boolean-op", "role", "expressions"]) else {
            return nil
        }
        guard reader.require(["expressions"], in: e, node: node, path) else { return nil }
        var rule = Rule(expressions: [])
        for (key, _, v) in e {
            let sub = SpecReader.join(path, key)
            if key == "expressions" {
                for (i, item) in (reader.sequence(v, sub) ?? []).enumerated() {
                    let p = "\(sub)[\(i)]"
                    guard let x = reader.mapping(item, p, allowed: ["id", "attribute", "operation", "value", "type", "value-source"])
                    else { continue }
                    guard reader.require(["attribute", "operation"], in: x, node: item, p) else { continue }
                    var expression = RuleExpression(attribute: "", operation: "", value: nil)
                    for (k, _, xv) in x {
                        guard let text = reader.string(xv, SpecReader.join(p, k)) else { continue }
                        switch k {
                        case "id": expression.id = text
                        case "attribute": expression.attribute = text
                        case "operation": expression.operation = text
                        case "value": expression.value = text
                        default: expression.otherAttributes.append(NVPair(name: k, value: text))
                        }
                    }
                    rule.expressions.append(expression)
                }
                continue
            }
            guard let text = reader.string(v, sub) else { continue }
            switch key {
            case "id": rule.id = text
            case "score": rule.score = text
            case "boolean-op": rule.booleanOp = text
            default: rule.otherAttributes.append(NVPair(name: key, value: text))
            }
        }
        return rule
    }

    // MARK: - Nodes, alerts, fencing

    mutating func node(_ node: YNode, _ path: String) -> Pacemaker.Node? {
        guard
            let e = reader.mapping(
                node, path, allowed: ["id", "name", "type", "description", "attributes", "utilization"])
        else { return nil }
        guard reader.require(["id", "name"], in: e, node: node, path) else { return nil }
        var n = Pacemaker.Node(id: "", uname: "")
        for (key, _, v) in e {
            let sub = SpecReader.join(path, key)
            switch key {
            case "attributes": n.attributes = sortedSet(v, sub)
            case "utilization": n.utilization = sortedSet(v, sub)
            default:
                guard let text = reader.string(v, sub) else { continue }
                switch key {
                case "id": n.id = text
                case "name": n.uname = text
                case "type": n.type = text
                default: n.description = text
                }
            }
        }
        locations["node '\(n.id)'"] = reader.location(node)
        return n
    }

    mutating func alert(_ node: YNode, _ path: String) -> Alert? {
        if let verbatim = verbatimItem(node, path) {
            return verbatim.map { Alert(id: $0.id ?? "", path: "", verbatim: $0) }
        }
        let keys: Set<String> = ["id", "path", "description", "select", "options", "meta", "recipients"]
        guard let e = reader.mapping(node, path, allowed: keys) else { return nil }
        guard reader.require(["path"], in: e, node: node, path) else { return nil }
        var a = Alert(id: "", path: "")
        for (key, _, v) in e {
            let sub = SpecReader.join(path, key)
            switch key {
            case "select": a.select = reader.strings(v, sub)
            case "options": a.instanceAttributes = sortedSet(v, sub)
            case "meta": a.metaAttributes = sortedSet(v, sub)
            case "recipients":
                for (i, item) in (reader.sequence(v, sub) ?? []).enumerated() {
                    let p = "\(sub)[\(i)]"
                    guard let r = reader.mapping(item, p, allowed: ["id", "value", "description", "options", "meta"])
                    else { continue }
                    guard reader.require(["value"], in: r, node: item, p) else { continue }
                    var recipient = AlertRecipient(value: "")
                    for (k, _, rv) in r {
                        let rp = SpecReader.join(p, k)
                        switch k {
                        case "options": recipient.instanceAttributes = sortedSet(rv, rp)
                        case "meta": recipient.metaAttributes = sortedSet(rv, rp)
                        case "id": recipient.id = reader.string(rv, rp)
                        case "value": recipient.value = reader.string(rv, rp) ?? ""
                        default: recipient.description = reader.string(rv, rp)
                        }
                    }
                    a.recipients.append(recipient)
                }
            default:
                guard let text = reader.string(v, sub) else { continue }
                switch key {
                case "id": a.id = text
                case "path": a.path = text
                default: a.description = text
                }
            }
        }
        if a.id.isEmpty {
            // pcs names alerts without an id alert, alert-1, alert-2, ...
            a.id = defaultAlertIDs == 0 ? "alert" : "alert-\(defaultAlertIDs)"
            defaultAlertIDs += 1
        }
        locations["alert '\(a.id)'"] = reader.location(node)
        return a
    }

    mutating func fencingLevel(_ node: YNode, _ path: String) -> FencingLevel? {
        if let verbatim = verbatimItem(node, path) {
            return verbatim.map { FencingLevel(id: $0.id, index: "", target: nil, devices: [], verbatim: $0) }
        }
        guard let e = reader.mapping(node, path, allowed: ["id", "target", "index", "devices"]) else { return nil }
        guard reader.require(["target", "index", "devices"], in: e, node: node, path) else { return nil }
        var level = FencingLevel(index: "", target: nil, devices: [])
        for (key, _, v) in e {
            let sub = SpecReader.join(path, key)
            switch key {
            case "devices": level.devices = reader.strings(v, sub)
            case "id": level.id = reader.string(v, sub)
            case "target": level.target = reader.string(v, sub)
            default: level.index = reader.string(v, sub) ?? ""
            }
        }
        locations["fencing-level '\(level.id ?? "fl-\(level.target ?? "")-\(level.index)")'"] = reader.location(node)
        return level
    }
}

/// The monitor operation pcs adds to a resource created without one (`--no-default-ops` still adds it).
///
/// pcs reads the interval and timeout from the agent's metadata; khactl does no I/O, so it carries the values
/// of the agents it knows and falls back to pcs's own default (`interval=60s`, no timeout) for the rest.
public enum AgentDefaults {
    /// Monitor operations advertised by common agents' metadata (resource-agents 4.12, pacemaker 2.1.5):
    /// interval, timeout and role. Agents with role-specific monitors (Stateful) get one per role, as pcs does.
    public static let monitorAdvice: [String: [(interval: String, timeout: String, role: String?)]] = [
        "ocf:heartbeat:IPaddr2": [("10s", "20s", nil)],
        "ocf:heartbeat:IPaddr": [("5s", "20s", nil)],
        "ocf:heartbeat:Dummy": [("10s", "20s", nil)],
        "ocf:pacemaker:Dummy": [("10s", "20s", nil)],
        "ocf:pacemaker:Stateful": [("10s", "20s", "Promoted"), ("11s", "20s", "Unpromoted")],
        "ocf:heartbeat:Filesystem": [("20s", "40s", nil)],
        "ocf:heartbeat:apache": [("10s", "20s", nil)],
        "ocf:pacemaker:ping": [("10s", "60s", nil)],
        "ocf:heartbeat:docker": [("30s", "30s", nil)],
        "ocf:heartbeat:podman": [("30s", "30s", nil)],
    ]

    /// The monitor operations pcs would add for `agent` when none is given.
    public static func monitors(for agent: ResourceAgent) -> [Operation] {
        if let advice = monitorAdvice[agent.description] {
            return advice.map { Operation(name: "monitor", interval: $0.interval, timeout: $0.timeout, role: $0.role) }
        }
        if agent.resourceClass == .lsb {
            // Pacemaker's generated LSB metadata advertises monitor interval=15 timeout=15.
            return [Operation(name: "monitor", interval: "15", timeout: "15")]
        }
        return [Operation(name: "monitor", interval: "60s")]
    }
}
