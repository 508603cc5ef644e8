internal import CCorosync
import Synchronization

/// A typed cmap value.
public enum CMapValue: Hashable, Sendable, CustomStringConvertible {
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case string(String)
    case binary([UInt8])

    /// The value as an integer, when it is one.
    public var integer: Int64? {
        switch self {
        case .int8(let v): Int64(v)
        case .uint8(let v): Int64(v)
        case .int16(let v): Int64(v)
        case .uint16(let v): Int64(v)
        case .int32(let v): Int64(v)
        case .uint32(let v): Int64(v)
        case .int64(let v): v
        case .uint64(let v): Int64(exactly: v)
        default: nil
        }
    }

    /// The value as a string, when it is one.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as `corosync-cmapctl` prints it, without the type.
    public var description: String {
        switch self {
        case .int8(let v): String(v)
        case .uint8(let v): String(v)
        case .int16(let v): String(v)
        case .uint16(let v): String(v)
        case .int32(let v): String(v)
        case .uint32(let v): String(v)
        case .int64(let v): String(v)
        case .uint64(let v): String(v)
        case .float(let v): String(v)
        case .double(let v): String(v)
        case .string(let v): v
        case .binary(let bytes): bytes.map { String($0, radix: 16) }.joined(separator: " ")
        }
    }
}

/// A node of corosync's configured nodelist (`nodelist.node.N.*`).
public struct NodeListEntry: Hashable, Sendable {
    /// `nodeid`.
    public let nodeID: NodeID
    /// `name`, or the first address when the node has no name.
    public let name: String
    /// `ring0_addr`, `ring1_addr`, ... in link order.
    public let addresses: [String]

    /// Creates an entry.
    public init(nodeID: NodeID, name: String, addresses: [String]) {
        self.nodeID = nodeID
        self.name = name
        self.addresses = addresses
    }
}

/// A connection to corosync's configuration and runtime map.
public final class CMap: Sendable {
    // The handle, or nil once closed. The lock also serialises calls on the handle.
    private let handle: Mutex<UInt64?>

    /// Connects to cmap.
    ///
    /// - Throws: ``CorosyncError`` (`.library` when corosync is not running), or ``NamespaceError``.
    public init(endpoint: CorosyncEndpoint = .local) throws {
        let handle = try withEndpoint(endpoint) { () throws(CorosyncError) -> UInt64 in
            var handle = cmap_handle_t()
            try retrying("cmap_initialize") { cmap_initialize(&handle) }
            return handle
        }
        self.handle = Mutex(handle)
    }

    deinit {
        close()
    }

    /// Finalizes the handle. Safe to call more than once.
    public func close() {
        handle.withLock { handle in
            if let open = handle {
                cmap_finalize(open)
                handle = nil
            }
        }
    }

    private func withHandle<T>(_ body: (UInt64) throws(CorosyncError) -> T) throws(CorosyncError) -> T {
        let result: Result<T, CorosyncError> = handle.withLock { handle in
            guard let open = handle else { preconditionFailure("cmap handle used after close()") }
            do throws(CorosyncError) {
                return .success(try body(open))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The value of `key`, or `nil` when it does not exist.
    public func value(_ key: String) throws(CorosyncError) -> CMapValue? {
        try withHandle { (handle) throws(CorosyncError) in try read(handle, key) }
    }

    /// The string value of `key`, or `nil` when it does not exist or is not a string.
    public func string(_ key: String) throws(CorosyncError) -> String? {
        try value(key)?.string
    }

    /// The integer value of `key`, or `nil` when it does not exist or is not an integer.
    public func integer(_ key: String) throws(CorosyncError) -> Int64? {
        try value(key)?.integer
    }

    /// Every key starting with `prefix` and its value, in cmap's (sorted) order.
    public func entries(prefix: String) throws(CorosyncError) -> [(key: String, value: CMapValue)] {
        try withHandle { (handle) throws(CorosyncError) in
            var iterator = cmap_iter_handle_t()
            try retrying("cmap_iter_init(\(prefix))") { cmap_iter_init(handle, prefix, &iterator) }
            defer { cmap_iter_finalize(handle, iterator) }
            var result: [(key: String, value: CMapValue)] = []
            var keyBuffer = [CChar](repeating: 0, count: Int(CMAP_KEYNAME_MAXLEN) + 1)
            while true {
                var length = 0
                var type = cmap_value_types_t(rawValue: 0)
                let status = cmap_iter_next(handle, iterator, &keyBuffer, &length, &type)
                if status == CS_ERR_NO_SECTIONS { break }
                try check(status, "cmap_iter_next(\(prefix))")
                let key = String(decoding: keyBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                // A key can vanish between iteration and read (runtime keys do); skip it then.
                if let value = try read(handle, key) {
                    result.append((key, value))
                }
            }
            return result
        }
    }

    /// The configured nodelist, ordered by node id.
    public func nodeList() throws(CorosyncError) -> [NodeListEntry] {
        var fields: [Int: [String: CMapValue]] = [:]
        for (key, value) in try entries(prefix: "nodelist.node.") {
            // nodelist.node.<position>.<field>
            let parts = key.split(separator: ".", maxSplits: 3)
            guard parts.count == 4, let position = Int(parts[2]) else { continue }
            fields[position, default: [:]][String(parts[3])] = value
        }
        var nodes: [NodeListEntry] = []
        for (_, node) in fields {
            guard let id = node["nodeid"]?.integer, let nodeID = UInt32(exactly: id) else { continue }
            let addresses = node.keys
                .compactMap { field -> (Int, String)? in
                    guard field.hasPrefix("ring"), field.hasSuffix("_addr"),
                        let link = Int(field.dropFirst(4).dropLast(5)), let address = node[field]?.string
                    else { return nil }
                    return (link, address)
                }
                .sorted { $0.0 < $1.0 }
                .map(\.1)
            let name = node["name"]?.string ?? addresses.first ?? String(nodeID)
            nodes.append(NodeListEntry(nodeID: NodeID(nodeID), name: name, addresses: addresses))
        }
        return nodes.sorted { $0.nodeID < $1.nodeID }
    }

    /// Reads one key with its type; `nil` when it does not exist.
    private func read(_ handle: UInt64, _ key: String) throws(CorosyncError) -> CMapValue? {
        var length = 0
        var type = cmap_value_types_t(rawValue: 0)
        let probe = cmap_get(handle, key, nil, &length, &type)
        if probe == CS_ERR_NOT_EXIST { return nil }
        try check(probe, "cmap_get(\(key))")
        var buffer = [UInt8](repeating: 0, count: max(length, 1))
        let status = buffer.withUnsafeMutableBytes { raw in cmap_get(handle, key, raw.baseAddress, &length, &type) }
        if status == CS_ERR_NOT_EXIST { return nil }
        try check(status, "cmap_get(\(key))")
        let bytes = buffer.prefix(length)
        func load<T: FixedWidthInteger>(_: T.Type) -> T {
            var value: T = 0
            withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes.prefix(MemoryLayout<T>.size)) }
            return value
        }
        switch type {
        case CMAP_VALUETYPE_INT8: return .int8(load(Int8.self))
        case CMAP_VALUETYPE_UINT8: return .uint8(load(UInt8.self))
        case CMAP_VALUETYPE_INT16: return .int16(load(Int16.self))
        case CMAP_VALUETYPE_UINT16: return .uint16(load(UInt16.self))
        case CMAP_VALUETYPE_INT32: return .int32(load(Int32.self))
        case CMAP_VALUETYPE_UINT32: return .uint32(load(UInt32.self))
        case CMAP_VALUETYPE_INT64: return .int64(load(Int64.self))
        case CMAP_VALUETYPE_UINT64: return .uint64(load(UInt64.self))
        case CMAP_VALUETYPE_FLOAT: return .float(Float(bitPattern: load(UInt32.self)))
        case CMAP_VALUETYPE_DOUBLE: return .double(Double(bitPattern: load(UInt64.self)))
        case CMAP_VALUETYPE_STRING:
            return .string(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
        default:
            return .binary(Array(bytes))
        }
    }
}
