import Corosync
import Foundation

/// One event as `khactl watch` hands it to its sinks: what happened, on which node, and when the watcher
/// received it. Every sink of one watcher gets the same record, so the JSON that stdout prints and the JSON
/// a webhook receives are the same object, with the same `time`.
package struct WatchRecord: Sendable {
    /// The event.
    package let event: ClusterEvent
    /// The local node id of the corosync the event came from.
    package let node: NodeID
    /// When the watcher received it.
    package let time: Date

    /// Creates a record; `time` is now unless given.
    package init(_ event: ClusterEvent, node: NodeID, time: Date = Date()) {
        self.event = event
        self.node = node
        self.time = time
    }

    /// The event's JSON object: `time` (RFC 3339, milliseconds, UTC), `kind`, `node` and the event's fields.
    package var json: JSONValue {
        var fields = event.fields
        fields["time"] = .string(Timestamp.rfc3339(time))
        fields["kind"] = .string(event.kind)
        fields["node"] = .integer(Int64(node.rawValue))
        return .object(fields)
    }

    /// One human-readable line.
    package var text: String { "\(Timestamp.rfc3339(time)) node \(node) \(event.text)" }
}
