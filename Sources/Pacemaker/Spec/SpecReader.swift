import Yams

/// Yams' node, named apart from the CIB's `Node`.
package typealias YNode = Yams.Node

/// A position in a spec file.
public struct SpecLocation: Hashable, Sendable, CustomStringConvertible {
    /// The file name as given to the loader (`<input>` for text without a file).
    public var file: String
    /// The line, from 1.
    public var line: Int
    /// The column, from 1.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found while reading a spec file: where, which key, and what is wrong.
public struct SpecIssue: Hashable, Sendable, CustomStringConvertible {
    /// Where the offending key or value is.
    public var location: SpecLocation
    /// The path of the offending key (`resources[0].operations[1].interval`).
    public var path: String
    /// What is wrong.
    public var message: String

    /// Creates an issue.
    public init(location: SpecLocation, path: String, message: String) {
        self.location = location
        self.path = path
        self.message = message
    }

    /// `file:line:column: path: message`.
    public var description: String { "\(location): \(path.isEmpty ? "(top level)" : path): \(message)" }
}

/// A spec file could not be read: every issue found, in file order.
public struct SpecLoadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A short machine-readable code: `syntax`, `structure` or `io`.
    public var code: String
    /// The issues, in file order.
    public var issues: [SpecIssue]
    /// The underlying error's description (a YAML syntax error or a file error), if any.
    public var underlying: String?

    /// Creates an error.
    public init(code: String, issues: [SpecIssue], underlying: String? = nil) {
        self.code = code
        self.issues = issues
        self.underlying = underlying
    }

    /// One issue per line.
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Walks a composed YAML tree, collecting issues with their positions instead of stopping at the first. The
/// one reader of spec YAML: khactl's `cluster` and `profile` sections are read with it too.
package struct SpecReader {
    package let file: String
    package var issues: [SpecIssue] = []

    package init(file: String) { self.file = file }

    package func location(_ node: YNode?) -> SpecLocation {
        let mark = node?.mark
        return SpecLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    package mutating func issue(_ node: YNode?, _ path: String, _ message: String) {
        issues.append(SpecIssue(location: location(node), path: path, message: message))
    }

    package static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The entries of a mapping with their key nodes, or nil (with an issue) for any other node.
    package mutating func mapping(_ node: YNode, _ path: String, allowed: Set<String>? = nil) -> [(String, YNode, YNode)]? {
        guard let mapping = node.mapping else {
            issue(node, path, "expected a mapping, found \(kind(node))")
            return nil
        }
        var entries: [(String, YNode, YNode)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                issue(keyNode, path, "keys must be plain strings")
                continue
            }
            if let allowed, !allowed.contains(key) {
                let known = allowed.sorted().joined(separator: ", ")
                issue(keyNode, Self.join(path, key), "unknown key '\(key)' (expected one of: \(known))")
                continue
            }
            entries.append((key, keyNode, value))
        }
        return entries
    }

    package func kind(_ node: YNode) -> String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// A scalar as the string it spells (`true`, `24` and `2s` alike), or nil (with an issue).
    package mutating func string(_ node: YNode, _ path: String) -> String? {
        guard let scalar = node.scalar else {
            issue(node, path, "expected a string, found \(kind(node))")
            return nil
        }
        if node.null != nil && scalar.style == .plain {
            issue(node, path, "has no value")
            return nil
        }
        return scalar.string
    }

    package mutating func sequence(_ node: YNode, _ path: String) -> [YNode]? {
        guard let sequence = node.sequence else {
            issue(node, path, "expected a list, found \(kind(node))")
            return nil
        }
        return Array(sequence)
    }

    /// A mapping of strings to strings, in order, as name/value pairs.
    mutating func pairs(_ node: YNode, _ path: String) -> [NVPair] {
        guard let entries = mapping(node, path) else { return [] }
        return entries.compactMap { key, _, value in
            string(value, Self.join(path, key)).map { NVPair(name: key, value: $0) }
        }
    }

    mutating func strings(_ node: YNode, _ path: String) -> [String] {
        guard let items = sequence(node, path) else { return [] }
        return items.enumerated().compactMap { string($1, "\(path)[\($0)]") }
    }

    /// Reports required keys that are missing from a mapping.
    mutating func require(_ keys: [String], in entries: [(String, YNode, YNode)], node: YNode, _ path: String) -> Bool {
        var ok = true
        for key in keys where !entries.contains(where: { $0.0 == key }) {
            issue(node, path, "missing required key '\(key)'")
            ok = false
        }
        return ok
    }
}
