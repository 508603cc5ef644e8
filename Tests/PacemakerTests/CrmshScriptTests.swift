import Foundation
import Testing

@testable import Pacemaker

@Suite("crmsh script")
struct CrmshScriptTests {
    @Test("the issue example renders to the expected crm configure lines")
    func issueExample() throws {
        let spec = try SpecFile.load(path: Paths.pcsFixtures.appendingPathComponent("issue-example/spec.yaml").path)
        let output = CrmshScript.renderWithNotes(spec.configuration)
        #expect(output.omitted == [])
        #expect(
            output.lines == [
                "primitive vip ocf:heartbeat:IPaddr2 params cidr_netmask=24 ip=198.18.0.100 op monitor interval=2s",
                "primitive haproxy lsb:haproxy op monitor interval=2s",
                "clone haproxy-clone haproxy meta interleave=true",
                "primitive kube-apiserver systemd:kube-apiserver op monitor interval=60s",
                "group apiserver kube-apiserver",
                "clone apiserver-clone apiserver meta interleave=true",
                "primitive kube-controller-manager systemd:kube-controller-manager op monitor interval=60s",
                "primitive kube-scheduler systemd:kube-scheduler op monitor interval=60s",
                "group control kube-controller-manager kube-scheduler",
                "order order-vip-haproxy-clone-Optional Optional: vip:start haproxy-clone:start",
                "colocation colocation-vip-haproxy-clone-INFINITY inf: vip haproxy-clone",
                "order order-haproxy-clone-apiserver-clone-Optional Optional: haproxy-clone:start apiserver-clone:start",
                "property stonith-enabled=false",
                "rsc_defaults resource-stickiness=100",
            ])
    }

    @Test("values with spaces or quotes are quoted for crmsh's lexer")
    func quoting() {
        #expect(CrmshScript.quote("node1 node2") == "\"node1 node2\"")
        #expect(CrmshScript.quote("a\"b") == "\"a\\\"b\"")
        #expect(CrmshScript.quote("198.18.0.100") == "198.18.0.100")
    }

    @Test(
        "feeding the script to real crmsh makes the same configuration (sub-object ids aside)",
        arguments: Paths.scenarios())
    func differential(scenario: String) throws {
        let spec = try SpecFile.load(path: Paths.pcsFixtures.appendingPathComponent("\(scenario)/spec.yaml").path)
        let (_, empty) = try run("/usr/sbin/cibadmin", ["--empty"])
        let cib = try temporaryFile(empty)
        defer { try? FileManager.default.removeItem(atPath: cib) }
        let output = CrmshScript.renderWithNotes(spec.configuration)
        #expect(output.omitted == [])
        var environment = ProcessInfo.processInfo.environment
        environment["CIB_file"] = cib
        let (status, text) = try run(
            "/usr/sbin/crm", ["-F", "configure"], environment: environment,
            stdin: output.lines.joined(separator: "\n") + "\ncommit\n")
        #expect(status == 0, "crm: \(text)")
        let made = try canonicalConfigurationIgnoringSubIDs(ofCIB: String(contentsOfFile: cib, encoding: .utf8))
        let rendered = try canonicalConfigurationIgnoringSubIDs(ofCIB: CIBRenderer.render(spec.configuration))
        #expect(made == rendered)
    }
}
