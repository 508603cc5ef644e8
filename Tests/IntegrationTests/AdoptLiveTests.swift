import Foundation
import FoundationXML
import Pacemaker
import Testing
import TestSupport

/// Adopting a live cluster someone configured with pcs: a 3-node lab (its fence devices are the lab's), the
/// seed layout made by a real pcs script inside node1, then `spec from-cib`, `plan --adopt`, `apply --adopt`
/// and one edit of the spec.
@Suite("Adopting a live cluster configured by pcs", .serialized)
struct AdoptLiveTests {
    static let pcsScript = """
        set -e
        pcs resource create vip ocf:heartbeat:IPaddr2 ip=198.18.0.100 cidr_netmask=24 op monitor interval=2s
        pcs resource create haproxy ocf:pacemaker:Dummy clone interleave=true
        pcs resource create kube-apiserver ocf:pacemaker:Dummy --group apiserver
        pcs resource clone apiserver interleave=true
        pcs resource create kube-controller-manager ocf:pacemaker:Dummy --group control
        pcs resource create kube-scheduler ocf:pacemaker:Dummy --group control
        pcs constraint colocation add vip with haproxy-clone INFINITY
        pcs constraint order start haproxy-clone then start vip kind=Optional
        pcs constraint order start apiserver-clone then start control
        pcs resource defaults update resource-stickiness=100
        pcs property set cluster-recheck-interval=5min
        """

    /// The configuration with khactl's ownership tag taken out (and `<tags>` if that was all it held).
    static func withoutOwnershipTag(_ cib: String) throws -> String {
        let root = try #require(try XMLDocument(xmlString: cib, options: []).rootElement())
        let configuration = try #require(root.elements(forName: "configuration").first)
        for tags in configuration.elements(forName: "tags") {
            for tag in tags.elements(forName: "tag") where tag.attribute(forName: "id")?.stringValue == "khactl-managed" {
                tag.detach()
            }
            if tags.childCount == 0 { tags.detach() }
        }
        return CanonicalXML.string(configuration)
    }

    @Test("a pcs-made 3-node cluster is adopted with zero configuration changes; a spec edit then applies as one change")
    func adoptPCSCluster() throws {
        let root = try LabTests.LabRoot()
        defer {
            _ = try? root.run(["lab", "down"])
            root.remove()
        }
        let khactl = productsDirectory.appendingPathComponent("khactl").path
        let up = try root.run(["lab", "up", "--nodes", "3"], timeout: 180)
        try #require(up.status == 0, "lab up: \(up.stderr)")
        func inNode(_ arguments: [String], stdin: String? = nil, timeout: TimeInterval = 120) throws -> CommandResult {
            try runTool(
                khactl, ["lab", "exec", "node1", "--"] + arguments, stdin: stdin, environment: root.environment,
                timeout: timeout)
        }
        let configured = try inNode(["bash", "-s"], stdin: Self.pcsScript)
        try #require(configured.status == 0, "pcs script: \(configured.stderr)")
        _ = try inNode(["crm_resource", "--wait", "--timeout=60s"])

        // from-cib, then plan --adopt: only adoptions, no change to any of them.
        let spec = root.path + "/adopted.yaml"
        let fromCIB = try inNode([khactl, "spec", "from-cib"])
        try #require(fromCIB.status == 0, "from-cib: \(fromCIB.stderr)")
        try fromCIB.stdout.write(toFile: spec, atomically: true, encoding: .utf8)
        let before = try inNode(["cibadmin", "--query"]).stdout
        let plan = try inNode([khactl, "plan", "--adopt", "-f", spec])
        #expect(plan.status == 2)
        let stepLines = plan.stdout.split(separator: "\n").filter { !$0.hasPrefix("Plan against") && !$0.hasPrefix("note:") }
        #expect(stepLines.filter { !$0.hasPrefix("= adopt ") }.map(String.init) == [])
        #expect(stepLines.contains("= adopt primitive vip"))
        #expect(stepLines.contains("= adopt rsc_colocation colocation-vip-haproxy-clone-INFINITY"))

        // apply --adopt: the configuration is as before but for the ownership tag.
        let apply = try inNode([khactl, "apply", "--adopt", "-f", spec])
        #expect(apply.status == 0, "apply: \(apply.stderr)")
        let adopted = try inNode(["cibadmin", "--query"]).stdout
        #expect(try Self.withoutOwnershipTag(adopted) == Self.withoutOwnershipTag(before))
        #expect(try inNode([khactl, "plan", "-f", spec]).status == 0)

        // One edit of the spec: one change planned and written, nothing else in the configuration moves.
        let edited = try String(contentsOfFile: spec, encoding: .utf8)
        // The lab's controller wrote some property ids in full where pcs cuts names to 20 characters, so the
        // properties are a list of pairs.
        try #require(edited.contains("{name: cluster-recheck-interval, value: 5min}"), "spec:\n\(edited)")
        try edited.replacingOccurrences(of: "{name: cluster-recheck-interval, value: 5min}", with: "{name: cluster-recheck-interval, value: 4min}")
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let editPlan = try inNode([khactl, "plan", "-f", spec])
        #expect(editPlan.status == 2)
        #expect(
            editPlan.stdout.split(separator: "\n").filter { !$0.hasPrefix("Plan against") }.map(String.init) == [
                "~ change property cluster-recheck-interval", "    cluster-recheck-interval: 5min -> 4min",
            ])
        #expect(try inNode([khactl, "apply", "-f", spec]).status == 0)
        let after = try inNode(["cibadmin", "--query"]).stdout
        #expect(
            try Self.withoutOwnershipTag(after)
                == Self.withoutOwnershipTag(adopted).replacingOccurrences(
                    of: "name=\"cluster-recheck-interval\" value=\"5min\"", with: "name=\"cluster-recheck-interval\" value=\"4min\""))
    }
}
