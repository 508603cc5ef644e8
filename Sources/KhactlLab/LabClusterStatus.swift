import KhactlCore
import ClusterExec
import Foundation
import Pacemaker

extension Lab {
    /// The cluster status from the first node that answers.
    package func clusterStatus() async throws -> ClusterStatus {
        let state = try store.load()
        var lastError: (any Error)?
        for node in state.nodes where node.initProcess?.isAlive == true && node.fault == nil {
            do {
                let output = try await runner.check(try nodeCommand(node.index, ["crm_mon", "--output-as=xml", "-1"], timeout: .seconds(10)))
                return try ClusterStatus(xml: output.standardOutput)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? LabError("no node of lab \(name) is powered on and reachable")
    }

    /// The names of the nodes pacemaker knows (a lab's cluster may have only some of the lab's nodes).
    package func clusterNodes() async throws -> [String] {
        try await clusterStatus().nodes.map(\.name)
    }
}
