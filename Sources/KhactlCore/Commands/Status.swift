import ArgumentParser
import ClusterExec
import Foundation
import Pacemaker

/// `khactl status`: nodes, resources and failed actions, from `crm_mon --output-as=xml` (never its text).
package struct Status: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Show nodes, resources and failed actions (from crm_mon's XML).")

    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let command = Command("crm_mon", ["--output-as=xml", "-1", "--inactive"], timeout: .seconds(30))
        let output: CommandOutput
        do {
            output = try await SubprocessRunner().check(command)
        } catch {
            throw CLIError("\(error) (is pacemaker running on this node?)")
        }
        let status: ClusterStatus
        do {
            status = try ClusterStatus(xml: output.standardOutput)
        } catch {
            throw CLIError("cannot read crm_mon's XML: \(error)")
        }
        switch global.output {
        case .json: print(status.json.line)
        case .text: print(status.text)
        }
    }
}

extension ClusterStatus {
    /// One JSON object: `dc`, `quorate`, `nodes`, `resources`, `failedActions`.
    package var json: JSONValue {
        [
            "dc": dc.map(JSONValue.string) ?? .null,
            "quorate": .bool(quorate),
            "maintenanceMode": .bool(maintenanceMode),
            "nodes": .array(nodes.map {
                [
                    "name": .string($0.name), "online": .bool($0.online), "standby": .bool($0.standby),
                    "maintenance": .bool($0.maintenance), "unclean": .bool($0.unclean),
                ]
            }),
            "resources": .array(resources.map {
                [
                    "id": .string($0.id), "agent": .string($0.agent), "role": .string($0.role), "active": .bool($0.active),
                    "failed": .bool($0.failed), "managed": .bool($0.managed), "nodes": .array($0.nodes.map(JSONValue.string)),
                ]
            }),
            "failedActions": .array(failedActions.map {
                ["resource": .string($0.resource), "node": .string($0.node), "operation": .string($0.operation), "reason": .string($0.reason)]
            }),
        ]
    }

    /// A few lines for people.
    package var text: String {
        var lines = ["DC: \(dc ?? "none"), \(quorate ? "partition with quorum" : "partition WITHOUT quorum")"]
        if maintenanceMode { lines.append("MAINTENANCE MODE: pacemaker starts, stops and monitors nothing") }
        lines.append("Nodes:")
        for node in nodes {
            lines.append(
                "  \(node.name): \(node.online ? "online" : "OFFLINE")\(node.standby ? ", standby" : "")"
                    + "\(node.maintenance ? ", maintenance" : "")\(node.unclean ? ", UNCLEAN" : "")")
        }
        lines.append("Resources:")
        for resource in resources {
            let placement = resource.nodes.isEmpty ? "" : " on \(resource.nodes.joined(separator: ", "))"
            lines.append(
                "  \(resource.id) (\(resource.agent)): \(resource.role)\(placement)\(resource.failed ? ", FAILED" : "")"
                    + (resource.managed ? "" : ", unmanaged"))
        }
        if !failedActions.isEmpty {
            lines.append("Failed actions:")
            for action in failedActions {
                lines.append("  \(action.resource) \(action.operation) on \(action.node): \(action.reason)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
