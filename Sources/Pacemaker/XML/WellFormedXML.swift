import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// XML that is not well-formed, with where the parser stopped.
public struct MalformedXMLError: Error, Hashable, Sendable, CustomStringConvertible {
    /// 1-based line, 0 when unknown.
    public let line: Int
    /// 1-based column, 0 when unknown.
    public let column: Int
    /// What is wrong.
    public let reason: String

    /// `line L, column C: reason`.
    public var description: String {
        line > 0 ? "not well-formed XML at line \(line), column \(column): \(reason)" : "not well-formed XML: \(reason)"
    }
}

/// A strict well-formedness check to run before `XMLDocument`.
///
/// On Linux, FoundationXML's `XMLDocument` recovers from malformed input silently (`<a><b></a>` reads as
/// `<a><b/></a>`) and crashes on empty input; a CIB read that way could lose or invent configuration.
/// `XMLParser` reports the first error instead.
public enum WellFormedXML {
    /// Throws ``MalformedXMLError`` unless `data` is one well-formed XML document.
    public static func check(_ data: Data) throws(MalformedXMLError) {
        guard data.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d) }) else {
            throw MalformedXMLError(line: 0, column: 0, reason: "the input is empty")
        }
        // A NUL byte passes XMLParser (which stops reading there) and then crashes XMLDocument (found by fuzzing:
        // the two bytes 00 04 as crm_mon output); no XML document may hold one.
        if data.contains(0) { throw MalformedXMLError(line: 0, column: 0, reason: "the input holds a NUL byte") }
        // A document starts with '<' (after an optional byte order mark and white space).
        var body = data[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        guard body.first(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d) }) == UInt8(ascii: "<") else {
            throw MalformedXMLError(line: 0, column: 0, reason: "the input does not start with an XML element")
        }
        // No CIB or crm_mon output has a document type; one with entities could make the parser expand them
        // without end ("billion laughs") or read files.
        for marker in ["<!DOCTYPE", "<!ENTITY"] where data.range(of: Data(marker.utf8)) != nil {
            throw MalformedXMLError(line: 0, column: 0, reason: "a \(marker) declaration is not allowed")
        }
        let parser = XMLParser(data: data)
        let elements = ElementCounter()
        parser.delegate = elements
        let parsed = parser.parse()
        if !parsed || parser.parserError != nil {
            let code = (parser.parserError as NSError?)?.code ?? -1
            throw MalformedXMLError(line: parser.lineNumber, column: parser.columnNumber, reason: "parser error \(code)")
        }
        // XMLParser accepts some input without any element ("<<", found by fuzzing crm_mon's reader), which
        // XMLDocument then reads as a document without a root, and an XPath query on that crashes FoundationXML.
        guard elements.started > 0 else { throw MalformedXMLError(line: 0, column: 0, reason: "the input has no root element") }
    }

    /// Counts the elements the parser starts.
    private final class ElementCounter: NSObject, XMLParserDelegate {
        var started = 0

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            started += 1
        }
    }
}
