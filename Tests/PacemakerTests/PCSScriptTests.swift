import Foundation
import Testing

@testable import Pacemaker

@Suite("pcs script")
struct PCSScriptTests {
    @Test("the issue example renders to the expected pcs commands")
    func issueExample() throws {
        let spec = try SpecFile.load(path: Paths.pcsFixtures.appendingPathComponent("issue-example/spec.yaml").path)
        let output = PCSScript.renderWithNotes(spec.configuration)
        #expect(output.omitted == [])
        #expect(
            output.commands == [
                ["pcs", "property", "set", "stonith-enabled=false"],
                ["pcs", "resource", "defaults", "update", "resource-stickiness=100"],
                [
                    "pcs", "resource", "create", "vip", "ocf:heartbeat:IPaddr2", "cidr_netmask=24", "ip=198.18.0.100",
                    "op", "monitor", "interval=2s", "--no-default-ops",
                ],
                [
                    "pcs", "resource", "create", "haproxy", "lsb:haproxy", "op", "monitor", "interval=2s",
                    "--no-default-ops",
                ],
                ["pcs", "resource", "clone", "haproxy", "meta", "interleave=true"],
                [
                    "pcs", "resource", "create", "kube-apiserver", "systemd:kube-apiserver", "op", "monitor",
                    "interval=60s",
                    "--group", "apiserver", "--no-default-ops",
                ],
                ["pcs", "resource", "clone", "apiserver", "meta", "interleave=true"],
                [
                    "pcs", "resource", "create", "kube-controller-manager", "systemd:kube-controller-manager", "op",
                    "monitor", "interval=60s", "--group", "control", "--no-default-ops",
                ],
                [
                    "pcs", "resource", "create", "kube-scheduler", "systemd:kube-scheduler", "op", "monitor",
                    "interval=60s", "--group", "control", "--no-default-ops",
                ],
                [
                    "pcs", "constraint", "order", "start", "vip", "then", "start", "haproxy-clone", "kind=Optional",
                ],
                ["pcs", "constraint", "colocation", "add", "vip", "with", "haproxy-clone", "INFINITY"],
                [
                    "pcs", "constraint", "order", "start", "haproxy-clone", "then", "start", "apiserver-clone",
                    "kind=Optional",
                ],
            ])
    }

    @Test("shell text quotes only for display")
    func shellText() {
        #expect(
            PCSScript.shellText([["pcs", "stonith", "create", "f", "fence_dummy", "pcmk_host_list=node1 node2", "a'b"]])
                == "pcs stonith create f fence_dummy 'pcmk_host_list=node1 node2' 'a'\\''b'\n")
    }

    @Test("running the script with real pcs makes the CIB khactl renders", arguments: Paths.scenarios())
    func differential(scenario: String) throws {
        let spec = try SpecFile.load(path: Paths.pcsFixtures.appendingPathComponent("\(scenario)/spec.yaml").path)
        let (_, empty) = try run("/usr/sbin/cibadmin", ["--empty"])
        let cib = try temporaryFile(empty)
        defer { try? FileManager.default.removeItem(atPath: cib) }
        // Nodes come from cluster membership, not from pcs: add them as corosync would.
        var environment = ProcessInfo.processInfo.environment
        environment["CIB_file"] = cib
        for node in spec.configuration.nodes {
            let xml = "<node id=\"\(node.id)\" uname=\"\(node.uname)\"/>"
            let (status, text) = try run(
                "/usr/sbin/cibadmin", ["-C", "-o", "nodes", "-X", xml], environment: environment)
            try #require(status == 0, "cibadmin: \(text)")
        }
        let output = PCSScript.renderWithNotes(spec.configuration, cibFile: cib, force: true)
        #expect(output.omitted == [])
        for argv in output.commands {
            let (status, text) = try run("/usr/sbin/pcs", Array(argv.dropFirst()))
            try #require(status == 0, "\(ShellQuoting.line(argv)): \(text)")
        }
        let made = try canonicalConfiguration(ofCIB: String(contentsOfFile: cib, encoding: .utf8))
        let rendered = try canonicalConfiguration(ofCIB: CIBRenderer.render(spec.configuration))
        #expect(made == rendered)
    }
}
