import ArgumentParser
import Corosync
import Foundation

/// `khactl watch`: membership, quorum and CPG events as they happen.
public struct Watch: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Stream membership, quorum and CPG events.",
        discussion: """
            Prints the current quorum state first, then every change. With --output json each event is one
            JSON object per line with time (RFC 3339, milliseconds), kind (membership, quorum, cpg,
            connection), node (the local node id) and the event's fields.
            """
    )

    @OptionGroup public var global: GlobalOptions

    @Option(help: "Exit after this many events.")
    public var count: Int?

    @Flag(help: "When corosync goes away, report it and reconnect with backoff instead of exiting.")
    public var reconnect = false

    @Option(help: "The CPG group the watchers join.")
    public var group = "khactl-watch"

    public init() {}

    public func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        do { _ = try CPGGroupName(group) } catch { throw ValidationError(String(describing: error)) }
    }

    public func run() async throws {
        let source = ClusterEventSource(
            endpoint: global.endpoint.endpoint, group: try CPGGroupName(group), reconnect: reconnect)
        let events: AsyncThrowingStream<(node: NodeID, event: ClusterEvent), any Error>
        do {
            events = try source.events()
        } catch {
            throw CLIError(String(describing: error))
        }
        var seen = 0
        do {
            for try await (node, event) in events {
                switch global.output {
                case .json:
                    var fields = event.fields
                    fields["time"] = .string(Timestamp.rfc3339())
                    fields["kind"] = .string(event.kind)
                    fields["node"] = .integer(Int64(node.rawValue))
                    print(JSONValue.object(fields).line)
                case .text:
                    print("\(Timestamp.rfc3339()) node \(node) \(event.text)")
                }
                fflush(nil)  // Each event reaches a pipe as it happens.
                seen += 1
                if let count, seen >= count { return }
            }
        } catch {
            throw CLIError("watch ended: \(error)")
        }
    }
}
