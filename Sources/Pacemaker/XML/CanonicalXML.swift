import Foundation
import FoundationXML

/// A canonical text form of XML for comparing CIBs: attribute order, whitespace between elements and comments are
/// ignored, and siblings are stably sorted by tag name.
///
/// Sorting siblings by tag is sound for the CIB because the schema declares the children of `configuration`,
/// `primitive`, `clone`, `group`, `alert` and the like as `<interleave>` (their relative order carries no
/// meaning), while siblings of one tag (group members, operations, nvpairs, constraints of one kind) keep their
/// relative order, which does carry meaning.
public enum CanonicalXML {
    /// The canonical form of `element` and its subtree.
    public static func string(_ element: XMLElement) -> String {
        var out = ""
        write(element, into: &out)
        return out
    }

    /// The canonical form of an XML document's root element (`nil` if the text is not well-formed XML).
    public static func string(xml: String) -> String? {
        guard let element = try? XMLElement(xmlString: xml) else { return nil }
        return string(element)
    }

    /// The canonical form of `element` itself and the names of its children, with the children named in `deep`
    /// in full. Enough to compare two elements whose other children are already known to be equal.
    static func shallow(_ element: XMLElement, deep: Set<String>) -> String {
        var out = ""
        write(element, into: &out, depth: 0, deep: deep)
        return out
    }

    private static func write(_ element: XMLElement, into out: inout String, depth: Int = -1, deep: Set<String> = []) {
        let name = element.name ?? ""
        out += "<" + name
        let attributes = (element.attributes ?? []).map { ($0.name ?? "", $0.stringValue ?? "") }
            .sorted { $0.0 < $1.0 }
        for (key, value) in attributes {
            out += " \(key)=\"\(escape(value))\""
        }
        out += ">"
        var children: [(String, XMLNode)] = []
        for child in element.children ?? [] {
            switch child.kind {
            case .element:
                children.append((child.name ?? "", child))
            case .text:
                let text = child.stringValue ?? ""
                if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    children.append(("#text", child))
                }
            default:
                continue
            }
        }
        // Stable sort: Swift's sort is not guaranteed stable, so sort on (name, position).
        let ordered = children.enumerated().sorted { a, b in
            a.element.0 == b.element.0 ? a.offset < b.offset : a.element.0 < b.element.0
        }
        for (_, (name, node)) in ordered {
            if depth == 0 && !deep.contains(name) {
                out += "<\(name)/>"
            } else if let child = node as? XMLElement {
                write(child, into: &out)
            } else {
                out += escape(node.stringValue ?? "")
            }
        }
        out += "</" + name + ">"
    }

    private static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "\n": result += "&#10;"
            case "\t": result += "&#9;"
            case "\r": result += "&#13;"
            default: result.append(ch)
            }
        }
        return result
    }
}
