import Foundation
import FoundationXML
import Pacemaker

/// One attribute of an object whose value changes.
public struct AttributeChange: Hashable, Sendable, CustomStringConvertible {
    /// Where the value sits in the object (`instance_attributes ip`, `op monitor 10s timeout`).
    public var path: String
    /// The value before; `nil` when it is added.
    public var old: String?
    /// The value after; `nil` when it is removed.
    public var new: String?
    /// Whether the values are secrets (shown as `(secret)`).
    public var secret: Bool

    public var description: String {
        func show(_ value: String?) -> String {
            guard let value else { return "(none)" }
            return secret ? "(secret)" : value
        }
        return "\(path): \(show(old)) -> \(show(new))"
    }
}

/// One step of a plan.
public struct PlanStep: Hashable, Sendable, CustomStringConvertible {
    /// What the step does.
    public enum Action: String, Hashable, Sendable {
        /// The object is created.
        case add
        /// The object is owned and some of its attributes change.
        case change
        /// The object exists, was not khactl's, and is taken over (`--adopt`), maybe with changes.
        case adopt
        /// The object is owned, left the spec, and is removed (`--prune`).
        case remove
    }

    /// What the step does.
    public var action: Action
    /// The object.
    public var key: ObjectKey
    /// The object as people read it (`primitive vip`).
    public var label: String
    /// The attributes that change (for `change` and `adopt`).
    public var changes: [AttributeChange]

    public var description: String {
        let sign: String
        switch action {
        case .add: sign = "+"
        case .change: sign = "~"
        case .adopt: sign = "="
        case .remove: sign = "-"
        }
        var line = "\(sign) \(action.rawValue) \(label)"
        for change in changes { line += "\n    \(change)" }
        return line
    }
}

/// A problem that stops a plan before anything is written.
public struct PlanError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Each problem, one sentence.
    public var problems: [String]

    /// Creates an error.
    public init(_ problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "\n") }
}

/// What an apply would do to one CIB: the steps, notes, and the CIB it would write.
public struct Plan: Sendable {
    /// The steps, in the order they are shown (properties, defaults, resources, constraints, levels, alerts).
    public var steps: [PlanStep]
    /// Things left alone that people should know of (owned objects not in the spec, without `--prune`).
    public var notes: [String]
    /// The live CIB's version the plan was made from.
    public var baseVersion: CIBVersion
    /// The CIB the apply writes (the live one with the steps done and the epoch raised), or `nil` when there is
    /// nothing to do.
    public var desiredCIB: String?
    /// The ids khactl owns after the apply.
    public var ownedAfter: Set<String>

    /// Whether there is nothing to write.
    public var isEmpty: Bool { steps.isEmpty }

    /// The plan as lines for people.
    public var text: String {
        var lines: [String] = []
        if steps.isEmpty {
            lines.append("No changes: the cluster matches the spec (CIB epoch \(baseVersion.epoch)).")
        } else {
            let counts = Dictionary(grouping: steps, by: \.action).mapValues(\.count)
            let summary = [PlanStep.Action.add, .change, .adopt, .remove].compactMap { action in
                counts[action].map { "\($0) to \(action.rawValue)" }
            }
            lines.append("Plan against CIB epoch \(baseVersion.epoch): \(summary.joined(separator: ", ")).")
            lines += steps.map(\.description)
        }
        lines += notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// The version triple of a CIB (`admin_epoch`, `epoch`, `num_updates`).
public struct CIBVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// `admin_epoch`: raised only by an administrator; wins over the others.
    public var adminEpoch: Int
    /// `epoch`: raised by every configuration change.
    public var epoch: Int
    /// `num_updates`: raised by every status change, reset with each epoch.
    public var numUpdates: Int

    /// A version from its three numbers.
    public init(adminEpoch: Int, epoch: Int, numUpdates: Int) {
        self.adminEpoch = adminEpoch
        self.epoch = epoch
        self.numUpdates = numUpdates
    }

    init(_ cib: XMLElement) {
        func number(_ name: String) -> Int { Int(cib.attribute(forName: name)?.stringValue ?? "") ?? 0 }
        self.init(adminEpoch: number("admin_epoch"), epoch: number("epoch"), numUpdates: number("num_updates"))
    }

    /// Reads the version of a CIB document's root.
    public init(xml: String) throws {
        let document = try LiveCIB.document(xml)
        self.init(document.rootElement()!)
    }

    /// Older first, as Pacemaker orders CIB versions.
    public static func < (a: CIBVersion, b: CIBVersion) -> Bool {
        (a.adminEpoch, a.epoch, a.numUpdates) < (b.adminEpoch, b.epoch, b.numUpdates)
    }

    public var description: String { "\(adminEpoch).\(epoch).\(numUpdates)" }
}

/// How the planner treats objects it does not own and owned objects that left the spec.
public struct PlanOptions: Hashable, Sendable {
    /// Remove owned objects that are not in the spec.
    public var prune = false
    /// Take over objects of the spec that exist but were not made by khactl.
    public var adopt = false

    /// Options; both off by default.
    public init(prune: Bool = false, adopt: Bool = false) {
        self.prune = prune
        self.adopt = adopt
    }
}

/// Reading a live CIB's text.
enum LiveCIB {
    static func document(_ xml: String) throws -> XMLDocument {
        let data = Data(xml.utf8)
        do {
            try WellFormedXML.check(data)
            let document = try XMLDocument(data: data, options: [])
            guard document.rootElement()?.name == "cib" else {
                throw PlanError(["the CIB's root element is <\(document.rootElement()?.name ?? "")>, not <cib>"])
            }
            return document
        } catch let error as PlanError {
            throw error
        } catch {
            throw PlanError(["the CIB is not well-formed XML: \(error)"])
        }
    }

    static func configuration(of document: XMLDocument) throws -> XMLElement {
        guard let configuration = document.rootElement()?.elements(forName: "configuration").first else {
            throw PlanError(["the CIB has no <configuration> section"])
        }
        return configuration
    }
}

/// Compares a spec's configuration with a live CIB and makes the plan.
public enum Planner {
    /// The plan that makes `liveCIB` (a CIB document's text) match `desired` for the objects khactl manages.
    ///
    /// - Throws: ``PlanError`` when the spec names objects that exist and are not khactl's (without `--adopt`),
    ///   when an id of the spec is taken by another object, or when the CIB cannot be read.
    public static func plan(liveCIB: String, desired: Configuration, options: PlanOptions = PlanOptions()) throws
        -> Plan
    {
        let document = try LiveCIB.document(liveCIB)
        let cib = document.rootElement()!
        let version = CIBVersion(cib)
        let configuration = try LiveCIB.configuration(of: document)

        let desiredRoot = CIBRenderer.configurationElement(desired)
        let wantedInOrder = ManagedObjects.orderedEntries(in: desiredRoot)
        let wanted = Dictionary(wantedInOrder.map { ($0.key, $0) }) { first, _ in first }
        let live = ManagedObjects.entries(in: configuration)
        let owned = ManagedObjects.ownedIDs(in: configuration)
        let idOwners = ManagedObjects.idOwners(in: configuration)

        var steps: [PlanStep] = []
        var problems: [String] = []
        var notes: [String] = []
        var ownedAfter = owned.filter { id in live.values.contains { $0.ownershipID == id } }

        // Spec order, kind by kind: added objects land in the CIB in the order pcs would make them.
        let ordered = wantedInOrder.enumerated().sorted {
            ($0.element.key.kind.rank, $0.offset) < ($1.element.key.kind.rank, $1.offset)
        }.map(\.element)
        // What each step writes, by the key of the object it changes (a name found in another set than the spec's
        // is changed there).
        var writes: [ObjectKey: ManagedEntry] = [:]
        var matchedElsewhere: Set<ObjectKey> = []
        for var want in ordered {
            if live[want.key] == nil, let other = inAnotherSet(want, live: live), wanted[other.key] == nil {
                // Pacemaker reads a property by name across sets: change it where it lives, under its id.
                let element = copy(want.element)
                element.attribute(forName: "id")?.stringValue = other.ownershipID
                want = ManagedEntry(key: other.key, element: element, ownershipID: other.ownershipID, container: other.container)
                matchedElsewhere.insert(other.key)
            }
            let key = want.key
            writes[key] = want
            if let have = live[key] {
                let isOwned = owned.contains(have.ownershipID)
                let changes = differences(from: have.element, to: want.element)
                if !isOwned && !options.adopt {
                    problems.append(
                        "\(have.label) exists in the CIB and was not made by khactl; run with --adopt to manage it"
                            + (changes.isEmpty ? "" : " (its definition differs from the spec)"))
                    continue
                }
                ownedAfter.remove(have.ownershipID)
                ownedAfter.insert(want.ownershipID)
                if !isOwned {
                    steps.append(PlanStep(action: .adopt, key: key, label: want.label, changes: changes))
                } else if !changes.isEmpty || have.ownershipID != want.ownershipID {
                    steps.append(PlanStep(action: .change, key: key, label: want.label, changes: changes))
                }
                // Ids inside the object must not be taken elsewhere.
                let ownIDs = Set(ManagedObjects.ids(in: have.element))
                for id in ManagedObjects.ids(in: want.element) where !ownIDs.contains(id) {
                    if let other = idOwners[id] { problems.append("\(want.label): id '\(id)' is already used by \(other) in the CIB") }
                }
            } else {
                for id in ManagedObjects.ids(in: want.element) {
                    if let other = idOwners[id] { problems.append("\(want.label): id '\(id)' is already used by \(other) in the CIB") }
                }
                steps.append(PlanStep(action: .add, key: key, label: want.label, changes: []))
                ownedAfter.insert(want.ownershipID)
            }
        }
        for key in live.keys.sorted() where wanted[key] == nil && !matchedElsewhere.contains(key) {
            let have = live[key]!
            guard owned.contains(have.ownershipID) else { continue }
            if options.prune {
                steps.append(PlanStep(action: .remove, key: key, label: have.label, changes: []))
                ownedAfter.remove(have.ownershipID)
            } else {
                notes.append("\(have.label) is khactl's but not in the spec; left in place (--prune removes it)")
            }
        }
        if !problems.isEmpty { throw PlanError(problems) }
        guard !steps.isEmpty else {
            return Plan(steps: [], notes: notes, baseVersion: version, desiredCIB: nil, ownedAfter: ownedAfter)
        }

        // The CIB to write: the live one with each step done in place.
        for step in steps {
            switch step.action {
            case .add:
                insert(writes[step.key]!, into: configuration)
            case .adopt where step.changes.isEmpty:
                // Pacemaker reads both the same: the object stays byte for byte, only the ownership tag changes.
                continue
            case .change, .adopt:
                replace(live[step.key]!.element, with: writes[step.key]!.element)
            case .remove:
                remove(live[step.key]!)
            }
        }
        setOwnershipTag(ownedAfter, in: configuration)
        cib.setAttributesWith(["epoch": String(version.epoch + 1), "num_updates": "0"].merging(
            ["admin_epoch": String(version.adminEpoch)]) { a, _ in a })
        let text = document.xmlString(options: [.nodePrettyPrint]) + "\n"
        return Plan(steps: steps, notes: notes, baseVersion: version, desiredCIB: text, ownedAfter: ownedAfter)
    }

    /// The one live pair of the same kind and name as `want` (a property or a default) in another set without a
    /// rule or score, if there is exactly one.
    static func inAnotherSet(_ want: ManagedEntry, live: [ObjectKey: ManagedEntry]) -> ManagedEntry? {
        guard want.container != nil, let name = want.element.attribute(forName: "name")?.stringValue else { return nil }
        let candidates = live.values.filter { entry in
            guard entry.key.kind == want.key.kind, entry.element.attribute(forName: "name")?.stringValue == name,
                let set = entry.element.parent as? XMLElement
            else { return false }
            return set.attribute(forName: "score") == nil && set.elements(forName: "rule").isEmpty
        }
        return candidates.count == 1 ? candidates.first : nil
    }

    /// The attributes that differ between two elements, `nil`-free when both are equal.
    static func differences(from old: XMLElement, to new: XMLElement) -> [AttributeChange] {
        let old = AsPacemakerReadsIt.normalized(old)
        let new = AsPacemakerReadsIt.normalized(new)
        if CanonicalXML.string(old) == CanonicalXML.string(new) { return [] }
        let before = FlatXML.flatten(old)
        let after = FlatXML.flatten(new)
        var changes: [AttributeChange] = []
        for path in Set(before.keys).union(after.keys).sorted() where before[path] != after[path] {
            let last = path.split(separator: " ").last.map(String.init) ?? path
            changes.append(AttributeChange(path: path, old: before[path], new: after[path], secret: FlatXML.isSecret(last)))
        }
        if changes.isEmpty {
            let oldIDs = ManagedObjects.ids(in: old)
            let newIDs = ManagedObjects.ids(in: new)
            if oldIDs != newIDs {
                // Same attributes under other ids.
                let gone = oldIDs.filter { !newIDs.contains($0) }
                let made = newIDs.filter { !oldIDs.contains($0) }
                changes.append(
                    AttributeChange(
                        path: "(ids)", old: gone.isEmpty ? nil : gone.joined(separator: ", "),
                        new: made.isEmpty ? nil : made.joined(separator: ", "), secret: false))
            } else {
                // Same attributes, different structure (order of members or operations).
                changes.append(AttributeChange(path: "(order of children)", old: nil, new: nil, secret: false))
            }
        }
        return changes
    }

    // MARK: - Editing the configuration

    private static func copy(_ element: XMLElement) -> XMLElement {
        // swift-corelibs-foundation's copy keeps the subtree and drops the parent.
        element.copy() as! XMLElement
    }

    private static func section(_ name: String, in configuration: XMLElement) -> XMLElement {
        if let existing = configuration.elements(forName: name).first { return existing }
        let created = XMLElement(name: name)
        configuration.addChild(created)
        return created
    }

    private static func insert(_ entry: ManagedEntry, into configuration: XMLElement) {
        if let container = entry.container {
            let section = section(container.section, in: configuration)
            let set =
                section.elements(forName: container.setTag).first { $0.attribute(forName: "id")?.stringValue == container.setID }
                ?? {
                    let created = XMLElement(name: container.setTag)
                    created.addAttribute(XMLNode.attribute(withName: "id", stringValue: container.setID) as! XMLNode)
                    section.addChild(created)
                    return created
                }()
            set.addChild(copy(entry.element))
            return
        }
        let name: String
        switch entry.key.kind {
        case .resource: name = "resources"
        case .constraint: name = "constraints"
        case .fencingLevel: name = "fencing-topology"
        default: name = "alerts"
        }
        section(name, in: configuration).addChild(copy(entry.element))
    }

    private static func replace(_ old: XMLElement, with new: XMLElement) {
        guard let parent = old.parent as? XMLElement else { return }
        parent.replaceChild(at: old.index, with: copy(new))
    }

    private static func remove(_ entry: ManagedEntry) {
        let parent = entry.element.parent as? XMLElement
        entry.element.detach()
        // A set left empty goes too (the schema allows it, but it is noise).
        if entry.container != nil, let parent, (parent.children ?? []).allSatisfy({ $0.kind != .element }) {
            parent.detach()
        }
    }

    private static func setOwnershipTag(_ ids: Set<String>, in configuration: XMLElement) {
        let tags = section("tags", in: configuration)
        ManagedObjects.ownershipTagElement(in: configuration)?.detach()
        if ids.isEmpty {
            if (tags.children ?? []).allSatisfy({ $0.kind != .element }) { tags.detach() }
            return
        }
        let tag = XMLElement(name: "tag")
        tag.addAttribute(XMLNode.attribute(withName: "id", stringValue: ManagedObjects.ownershipTag) as! XMLNode)
        for id in ids.sorted() {
            let ref = XMLElement(name: "obj_ref")
            ref.addAttribute(XMLNode.attribute(withName: "id", stringValue: id) as! XMLNode)
            tag.addChild(ref)
        }
        tags.addChild(tag)
    }
}

extension XMLElement {
    fileprivate func setAttributesWith(_ values: [String: String]) {
        for (name, value) in values {
            if let attribute = attribute(forName: name) {
                attribute.stringValue = value
            } else {
                addAttribute(XMLNode.attribute(withName: name, stringValue: value) as! XMLNode)
            }
        }
    }
}
