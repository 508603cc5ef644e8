import Foundation
import Testing

@testable import Pacemaker

@Suite("Spec files")
struct SpecFileTests {
    @Test("the issue example in JSON gives the same configuration as in YAML")
    func json() throws {
        let yaml = try SpecFile.load(path: Paths.pcsFixtures.appendingPathComponent("issue-example/spec.yaml").path)
        let json = """
            {"properties": {"stonith-enabled": "false"},
             "defaults": {"resources": {"resource-stickiness": "100"}},
             "resources": [
               {"id": "vip", "agent": "ocf:heartbeat:IPaddr2", "params": {"ip": "198.18.0.100", "cidr_netmask": "24"},
                "operations": [{"name": "monitor", "interval": "2s"}]},
               {"id": "haproxy", "agent": "lsb:haproxy", "operations": [{"name": "monitor", "interval": "2s"}],
                "clone": {"interleave": "true"}},
               {"group": "apiserver", "resources": [{"id": "kube-apiserver", "agent": "systemd:kube-apiserver"}],
                "clone": {"interleave": "true"}},
               {"group": "control", "resources": [
                 {"id": "kube-controller-manager", "agent": "systemd:kube-controller-manager"},
                 {"id": "kube-scheduler", "agent": "systemd:kube-scheduler"}]}],
             "constraints": [
               {"order": {"first": "vip", "then": "haproxy-clone", "kind": "Optional"}},
               {"colocation": {"resource": "vip", "with": "haproxy-clone", "score": "INFINITY"}},
               {"order": {"first": "haproxy-clone", "then": "apiserver-clone", "kind": "Optional"}}]}
            """
        #expect(try SpecFile.parse(json, file: "spec.json").configuration == yaml.configuration)
    }

    @Test("JSON errors are located too")
    func jsonError() {
        #expect(
            messages(for: "{\"resources\": [{\"id\": \"x\", \"agnt\": \"lsb:x\"}]}") == [
                "bad.yaml:1:28: resources[0].agnt: unknown key 'agnt' (expected one of: agent, clone, default-monitor, description, id, meta, operations, operations-id, params, utilization)",
                "bad.yaml:1:16: resources[0]: missing required key 'agent'",
            ])
    }

    @Test("a missing file is named in the error")
    func missingFile() {
        #expect(throws: SpecLoadError.self) { try SpecFile.load(path: "/nonexistent/spec.yaml") }
        do {
            _ = try SpecFile.load(path: "/nonexistent/spec.yaml")
        } catch let error as SpecLoadError {
            #expect(error.description == "/nonexistent/spec.yaml:1:1: (top level): cannot read the file")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("an empty spec is an empty configuration")
    func empty() throws {
        let spec = try SpecFile.parse("")
        #expect(spec.configuration == Configuration())
        #expect(CIBRenderer.renderConfiguration(spec.configuration).contains("<resources></resources>"))
    }

    @Test("group members may name top-level primitives, which move into the group in member order")
    func groupReferences() throws {
        let spec = try SpecFile.parse(
            """
            resources:
              - {id: a, agent: "systemd:a"}
              - {id: b, agent: "systemd:b"}
              - {group: g, resources: [b, a]}
            """)
        #expect(Validator.validate(spec) == [])
        guard case .group(let g) = spec.configuration.resources.first else {
            Issue.record("expected the group first")
            return
        }
        #expect(spec.configuration.resources.count == 1)
        #expect(g.members.map(\.id) == ["b", "a"])
    }

    @Test("alerts without ids are named alert, alert-1, as pcs names them")
    func alertIDs() throws {
        let spec = try SpecFile.parse("alerts:\n  - {path: /bin/a}\n  - {path: /bin/b}\n")
        #expect(spec.configuration.alerts?.map(\.id) == ["alert", "alert-1"])
    }
}
