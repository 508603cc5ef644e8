internal import CCorosync

/// Builds a C `cpg_name` from a validated name.
func makeCName(_ name: CPGGroupName) -> cpg_name {
    var cName = cpg_name()
    let bytes = Array(name.value.utf8)
    cName.length = UInt32(bytes.count)
    // Sound: CPGGroupName guarantees at most 127 bytes and `value` holds 128.
    withUnsafeMutableBytes(of: &cName.value) { raw in
        raw.copyBytes(from: bytes)
    }
    return cName
}

/// Copies a C `cpg_name` into a Swift string.
func groupName(_ name: UnsafePointer<cpg_name>?) -> String {
    guard let name else { return "" }
    return groupName(name.pointee)
}

func groupName(_ name: cpg_name) -> String {
    withUnsafeBytes(of: name.value) { raw in
        let length = min(Int(name.length), raw.count)
        var bytes = Array(raw.prefix(length))
        // Some senders count the terminator in `length`.
        while bytes.last == 0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Copies `count` C `cpg_address` entries into member changes.
func memberChanges(_ list: UnsafePointer<cpg_address>?, _ count: Int) -> [CPGMemberChange] {
    guard let list, count > 0 else { return [] }
    // Sound: corosync passes `count` entries valid for the callback; they are copied before it returns.
    return UnsafeBufferPointer(start: list, count: count).map {
        CPGMemberChange(member: CPGMember(nodeID: NodeID($0.nodeid), pid: $0.pid), reason: CPGReason(rawValue: $0.reason))
    }
}

/// The sink registered as this handle's context.
private func cpgSink(_ handle: cpg_handle_t) -> EventSink<CPGEvent>? {
    var context: UnsafeMutableRawPointer?
    guard cpg_context_get(handle, &context) == CS_OK else { return nil }
    return EventSink<CPGEvent>.from(UnsafeRawPointer(context))
}

/// The C callbacks. Each copies what corosync passed into Swift values before returning.
enum CPGCallbacks {
    static let deliver: cpg_deliver_fn_t = { handle, group, nodeID, pid, message, length in
        guard let sink = cpgSink(handle) else { return }
        var bytes: [UInt8] = []
        if let message, length > 0 {
            // Sound: `message` holds `length` bytes for the duration of the callback.
            bytes = Array(UnsafeRawBufferPointer(start: message, count: length))
        }
        let sender = CPGMember(nodeID: NodeID(nodeID), pid: pid)
        sink.yield(.message(CPGMessage(group: groupName(group), sender: sender, bytes: bytes)))
    }

    static let configurationChange: cpg_confchg_fn_t = { handle, group, members, memberCount, left, leftCount, joined, joinedCount in
        guard let sink = cpgSink(handle) else { return }
        let change = CPGConfigurationChange(
            group: groupName(group),
            members: memberChanges(members, memberCount).map(\.member),
            joined: memberChanges(joined, joinedCount),
            left: memberChanges(left, leftCount)
        )
        sink.yield(.configurationChange(change))
    }

    static let totemChange: cpg_totem_confchg_fn_t = { handle, ringID, memberCount, members in
        guard let sink = cpgSink(handle) else { return }
        let ring = RingID(nodeID: NodeID(ringID.nodeid), sequence: ringID.seq)
        sink.yield(.totemChange(TotemRingChange(ringID: ring, members: nodeIDs(members, Int(memberCount)))))
    }
}
