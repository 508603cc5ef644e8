import Foundation

/// A JSON value with a stable, sorted-key encoding, for the CLI's machine-readable output.
package enum JSONValue: Hashable, Sendable, Encodable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    case string(String)
    case integer(Int64)
    /// A number with a fraction, written with millisecond precision (durations in seconds).
    case seconds(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int64) { self = .integer(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// Encodes the value as plain JSON.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .seconds(let value): try container.encode(Decimal(string: String(format: "%.3f", value)) ?? Decimal(value))
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// One line of compact JSON with sorted keys, the bytes JSONEncoder makes with `.sortedKeys` and
    /// `.withoutEscapingSlashes`. Written directly rather than through JSONEncoder: `khactl watch` prints one
    /// per event, and the encoder's generic path cost it 0.2-2 ms per event on a busy 2-core node (measured
    /// by Scripts/bench.sh against a C watcher), where this takes microseconds.
    package var line: String {
        var output = ""
        output.reserveCapacity(256)
        write(to: &output)
        return output
    }

    private func write(to output: inout String) {
        switch self {
        case .string(let value): Self.writeString(value, to: &output)
        case .integer(let value): output += String(value)
        case .seconds(let value): output += Self.seconds(value)
        case .bool(let value): output += value ? "true" : "false"
        case .null: output += "null"
        case .array(let values):
            output += "["
            for (index, value) in values.enumerated() {
                if index > 0 { output += "," }
                value.write(to: &output)
            }
            output += "]"
        case .object(let fields):
            output += "{"
            // JSONEncoder's .sortedKeys order: by the keys' UTF-8 bytes.
            for (index, key) in fields.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { output += "," }
                Self.writeString(key, to: &output)
                output += ":"
                fields[key]!.write(to: &output)
            }
            output += "}"
        }
    }

    /// Milliseconds precision without trailing zeros, as a Decimal made from "%.3f" encodes (2.680 -> 2.68).
    static func seconds(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    private static func writeString(_ value: String, to output: inout String) {
        output += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }

    /// The same line through JSONEncoder, kept as the reference the tests hold ``line`` to.
    var encoderLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a tree of strings, integers, booleans, arrays and objects cannot fail.
        let data = (try? encoder.encode(self)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// RFC 3339 timestamps with milliseconds, in UTC, e.g. `2026-11-22T03:58:01.123Z`.
package enum Timestamp {
    /// Formats `date`.
    package static func rfc3339(_ date: Date = Date()) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        rfc3339(date, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `date`, formatted, to `bytes`.
    static func rfc3339(_ date: Date, into bytes: inout [UInt8]) {
        // gmtime_r rather than ISO8601FormatStyle: the same text, without the format style's calendar work,
        // which costs a watcher tens of microseconds per event when its caches are cold.
        let interval = date.timeIntervalSince1970
        let whole = interval.rounded(.down)
        var seconds = time_t(whole)
        let milliseconds = min(999, Int32((interval - whole) * 1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int, then separator: UInt8?) {
            let text = String(value).utf8
            for _ in 0..<max(0, width - text.count) { bytes.append(UInt8(ascii: "0")) }
            bytes.append(contentsOf: text)
            if let separator { bytes.append(separator) }
        }
        pad(parts.tm_year + 1900, 4, then: UInt8(ascii: "-"))
        pad(parts.tm_mon + 1, 2, then: UInt8(ascii: "-"))
        pad(parts.tm_mday, 2, then: UInt8(ascii: "T"))
        pad(parts.tm_hour, 2, then: UInt8(ascii: ":"))
        pad(parts.tm_min, 2, then: UInt8(ascii: ":"))
        pad(parts.tm_sec, 2, then: UInt8(ascii: "."))
        pad(milliseconds, 3, then: UInt8(ascii: "Z"))
    }
}
