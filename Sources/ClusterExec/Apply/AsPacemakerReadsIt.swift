import Foundation
import FoundationXML

/// An object of the CIB as Pacemaker reads it, for comparing two versions of it: what Pacemaker gives no meaning
/// to is made equal, so that a plan never proposes to rewrite an object Pacemaker would read the same.
///
/// - the pairs of an attribute set in name order (Pacemaker looks pairs up by name; with a name given twice the
///   first wins, so such a set keeps its order);
/// - the operations of a primitive in (name, interval, role) order (Pacemaker keys them so) when no two share one;
/// - the defaults Pacemaker's schema gives an attribute, written out: an order's `first-action` and
///   `then-action` (`start`), a colocation's `rsc-role` and `with-rsc-role` (`Started`).
enum AsPacemakerReadsIt {
    static let setTags: Set<String> = ["instance_attributes", "meta_attributes", "utilization", "cluster_property_set"]

    /// A normalized copy of `element`; `element` is left as it is.
    static func normalized(_ element: XMLElement) -> XMLElement {
        let copy = element.copy() as! XMLElement
        normalize(copy)
        return copy
    }

    private static func normalize(_ element: XMLElement) {
        let name = element.name ?? ""
        switch name {
        case "rsc_order" where element.elements(forName: "resource_set").isEmpty:
            defaultAttribute(element, "first-action", "start")
            defaultAttribute(element, "then-action", "start")
        case "rsc_colocation" where element.elements(forName: "resource_set").isEmpty:
            defaultAttribute(element, "rsc-role", "Started")
            defaultAttribute(element, "with-rsc-role", "Started")
        default:
            break
        }
        for case let child as XMLElement in element.children ?? [] { normalize(child) }
        if setTags.contains(name) {
            sortChildren(element, tag: "nvpair") { [$0.attribute(forName: "name")?.stringValue ?? ""] }
        } else if name == "operations" {
            sortChildren(element, tag: "op") { op in
                ["name", "interval", "role"].map { op.attribute(forName: $0)?.stringValue ?? "" }
            }
        }
    }

    private static func defaultAttribute(_ element: XMLElement, _ name: String, _ value: String) {
        if element.attribute(forName: name) == nil {
            element.addAttribute(XMLNode.attribute(withName: name, stringValue: value) as! XMLNode)
        }
    }

    /// Sorts the children named `tag` by `key` among themselves, when no two share a key; other children stay.
    private static func sortChildren(_ element: XMLElement, tag: String, key: (XMLElement) -> [String]) {
        let children = element.children ?? []
        let sortable = children.compactMap { $0 as? XMLElement }.filter { $0.name == tag }
        let keys = sortable.map(key)
        guard sortable.count > 1, Set(keys.map { $0.joined(separator: "\u{0}") }).count == keys.count else { return }
        let sorted = zip(sortable, keys).sorted { $0.1.lexicographicallyPrecedes($1.1) }.map(\.0)
        var next = sorted.makeIterator()
        let reordered: [XMLNode] = children.map { child in
            if let e = child as? XMLElement, e.name == tag { return next.next()! }
            return child
        }
        for child in children { child.detach() }
        element.setChildren(reordered)
    }
}
