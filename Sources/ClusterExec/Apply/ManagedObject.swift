import Foundation
import FoundationXML
import Pacemaker

/// What the apply engine manages, one object at a time: a top-level resource (with everything inside it), a
/// constraint, an alert, a fencing level, or one name of a property or defaults set.
///
/// Objects are compared whole, in canonical form (attribute order and whitespace do not count); a change is
/// written as the new element in the old one's place, and `crm_diff` turns that into a patch of the attributes
/// that differ, so an object is never deleted and created again to change one value.
public struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The kind of a managed object.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case property
        case resourceDefault = "resource-default"
        case operationDefault = "operation-default"
        case resource
        case constraint
        case fencingLevel = "fencing-level"
        case alert

        /// Where the kind comes in a plan.
        var rank: Int { Kind.allCases.firstIndex(of: self) ?? 0 }
    }

    /// The kind.
    public var kind: Kind
    /// The id for resources, constraints, alerts and levels; `SET/NAME` for a name in a property or defaults set.
    public var name: String

    /// Creates a key.
    public init(_ kind: Kind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    /// By kind (in the order objects are written), then by name.
    public static func < (a: ObjectKey, b: ObjectKey) -> Bool {
        a.kind.rank == b.kind.rank ? a.name < b.name : a.kind.rank < b.kind.rank
    }

    public var description: String { "\(kind.rawValue) \(name)" }
}

/// One managed object found in a configuration section.
struct ManagedEntry {
    /// The object's key.
    var key: ObjectKey
    /// The element (`primitive`, `rsc_order`, `nvpair`, ...).
    var element: XMLElement
    /// The id recorded in the ownership tag (the element's id).
    var ownershipID: String
    /// For names in a set: the section (`crm_config`, `rsc_defaults`, `op_defaults`), the set's tag and id.
    var container: SetContainer?

    /// The element's tag and id as people read it (`primitive vip`, `property stonith-enabled`).
    var label: String {
        if let container { return "\(container.label) \(element.attribute(forName: "name")?.stringValue ?? "")" }
        return "\(element.name ?? "") \(ownershipID)"
    }
}

/// Where a name of a property or defaults set lives.
struct SetContainer: Hashable {
    /// `crm_config`, `rsc_defaults` or `op_defaults`.
    var section: String
    /// `cluster_property_set` or `meta_attributes`.
    var setTag: String
    /// The set's id.
    var setID: String

    var label: String {
        switch section {
        case "crm_config": "property"
        case "rsc_defaults": "resource default"
        default: "operation default"
        }
    }
}

/// Reads the managed objects out of a `<configuration>` element.
enum ManagedObjects {
    /// The id of the `<tag>` that lists what khactl owns.
    static let ownershipTag = "khactl-managed"

    /// Every managed object of `configuration`, keyed.
    static func entries(in configuration: XMLElement) -> [ObjectKey: ManagedEntry] {
        Dictionary(orderedEntries(in: configuration).map { ($0.key, $0) }) { first, _ in first }
    }

    /// Every managed object of `configuration`, in document order within each kind.
    static func orderedEntries(in configuration: XMLElement) -> [ManagedEntry] {
        var result: [ManagedEntry] = []
        func add(_ entry: ManagedEntry) { result.append(entry) }
        for (section, setTag, kind) in [
            ("crm_config", "cluster_property_set", ObjectKey.Kind.property),
            ("rsc_defaults", "meta_attributes", .resourceDefault),
            ("op_defaults", "meta_attributes", .operationDefault),
        ] {
            for sectionElement in configuration.elements(forName: section) {
                for set in sectionElement.elements(forName: setTag) {
                    let setID = set.attribute(forName: "id")?.stringValue ?? ""
                    // A rolling upgrade's record is cluster state, not configuration.
                    if section == "crm_config" && setID == ClusterStateObjects.upgradeRecordSetID { continue }
                    for pair in set.elements(forName: "nvpair") {
                        guard let name = pair.attribute(forName: "name")?.stringValue,
                            let id = pair.attribute(forName: "id")?.stringValue
                        else { continue }
                        add(
                            ManagedEntry(
                                key: ObjectKey(kind, "\(setID)/\(name)"), element: pair, ownershipID: id,
                                container: SetContainer(section: section, setTag: setTag, setID: setID)))
                    }
                }
            }
        }
        for (section, kind) in [
            ("resources", ObjectKey.Kind.resource), ("constraints", .constraint), ("fencing-topology", .fencingLevel),
            ("alerts", .alert),
        ] {
            for sectionElement in configuration.elements(forName: section) {
                for case let child as XMLElement in sectionElement.children ?? [] {
                    guard let id = child.attribute(forName: "id")?.stringValue else { continue }
                    // Move and ban constraints are cluster state: never adopted, pruned or reported.
                    if kind == .constraint && ClusterStateObjects.isTemporaryConstraint(id) { continue }
                    add(ManagedEntry(key: ObjectKey(kind, id), element: child, ownershipID: id, container: nil))
                }
            }
        }
        return result
    }

    /// The ids listed in khactl's ownership tag.
    static func ownedIDs(in configuration: XMLElement) -> Set<String> {
        guard let tag = ownershipTagElement(in: configuration) else { return [] }
        return Set(tag.elements(forName: "obj_ref").compactMap { $0.attribute(forName: "id")?.stringValue })
    }

    static func ownershipTagElement(in configuration: XMLElement) -> XMLElement? {
        for tags in configuration.elements(forName: "tags") {
            for tag in tags.elements(forName: "tag") where tag.attribute(forName: "id")?.stringValue == ownershipTag {
                return tag
            }
        }
        return nil
    }

    /// Every `id` attribute in the subtree of `element`, the element's own included.
    static func ids(in element: XMLElement) -> [String] {
        var found: [String] = []
        if let id = element.attribute(forName: "id")?.stringValue { found.append(id) }
        for case let child as XMLElement in element.children ?? [] { found += ids(in: child) }
        return found
    }

    /// Every `id` in the configuration, with the managed object (or section) it sits in.
    static func idOwners(in configuration: XMLElement) -> [String: String] {
        var owners: [String: String] = [:]
        let entries = entries(in: configuration)
        var claimed = Set<ObjectIdentifier>()
        for entry in entries.values {
            claimed.insert(ObjectIdentifier(entry.element))
            for id in ids(in: entry.element) { owners[id] = entry.label }
        }
        func walk(_ element: XMLElement) {
            if claimed.contains(ObjectIdentifier(element)) { return }
            if let id = element.attribute(forName: "id")?.stringValue, owners[id] == nil {
                owners[id] = "\(element.name ?? "") \(id)"
            }
            for case let child as XMLElement in element.children ?? [] { walk(child) }
        }
        walk(configuration)
        return owners
    }
}

/// An element flattened to `path = value` lines, for showing what changed attribute by attribute.
enum FlatXML {
    /// Names whose values are never shown.
    static func isSecret(_ name: String) -> Bool {
        let lower = name.lowercased()
        return ["pass", "secret", "token", "key"].contains { lower.contains($0) } && lower != "monkey"
    }

    static func flatten(_ element: XMLElement) -> [String: String] {
        var out: [String: String] = [:]
        walk(element, path: "", into: &out)
        return out
    }

    private static func walk(_ element: XMLElement, path: String, into out: inout [String: String]) {
        let tag = element.name ?? ""
        if tag == "nvpair", let name = element.attribute(forName: "name")?.stringValue {
            let key = path.isEmpty ? name : "\(path) \(name)"
            out[key] = element.attribute(forName: "value")?.stringValue ?? ""
            return
        }
        for attribute in element.attributes ?? [] where attribute.name != "id" {
            let name = attribute.name ?? ""
            out[path.isEmpty ? name : "\(path) \(name)"] = attribute.stringValue ?? ""
        }
        var seen: [String: Int] = [:]
        for case let child as XMLElement in element.children ?? [] {
            if child.name == "nvpair" {
                walk(child, path: path, into: &out)
                continue
            }
            var segment = child.name ?? ""
            if segment == "op" {
                let name = child.attribute(forName: "name")?.stringValue ?? ""
                let interval = child.attribute(forName: "interval")?.stringValue ?? "0"
                segment = "op \(name) \(interval)"
            } else if segment != "nvpair", let id = child.attribute(forName: "id")?.stringValue,
                ["primitive", "group", "clone", "bundle", "rule"].contains(segment)
            {
                segment = "\(segment) \(id)"
            }
            let count = seen[segment, default: 0]
            seen[segment] = count + 1
            if count > 0 { segment += " #\(count + 1)" }
            walk(child, path: path.isEmpty ? segment : "\(path) \(segment)", into: &out)
        }
    }
}
