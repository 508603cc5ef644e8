import Foundation
import Pacemaker

/// Whether the agents a configuration names are installed here, checked before anything is read or written.
///
/// crm_verify accepts any agent name; an agent that is not installed only shows up later as a failed start on
/// every node. ocf, lsb and stonith agents are files, so their absence is certain; systemd and service units
/// are not checked, since a bootstrap may install them after the cluster configuration (kube-apiserver).
public enum AgentCheck {
    /// Where pacemaker-fenced looks for fence agents (its build's fence binary directory; Debian's and Red Hat's
    /// is /usr/sbin). It does not search PATH.
    public static let fenceAgentDirectory = "/usr/sbin"

    /// The agents of `configuration` that are not installed, as messages naming the resource and the path
    /// looked at.
    public static func missing(in configuration: Configuration, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [String]
    {
        let ocfRoot = environment["OCF_ROOT"] ?? "/usr/lib/ocf"
        var problems: [String] = []
        for resource in configuration.allResources {
            guard case .primitive(let primitive) = resource, let agent = primitive.agent else { continue }
            let candidates: [String]
            switch agent.resourceClass {
            case .ocf: candidates = ["\(ocfRoot)/resource.d/\(agent.provider ?? "")/\(agent.type)"]
            case .lsb: candidates = ["/etc/init.d/\(agent.type)"]
            case .stonith: candidates = ["\(fenceAgentDirectory)/\(agent.type)"]
            default: continue
            }
            if !candidates.contains(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
                problems.append(
                    "primitive '\(primitive.id)': agent \(agent) is not installed here (no executable \(candidates[0]))")
            }
        }
        return problems
    }
}
