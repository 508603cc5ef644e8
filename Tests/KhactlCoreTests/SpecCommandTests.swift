import Foundation
import KhactlCore
import Pacemaker
import Testing
import TestSupport

/// The spec commands' output and exit status, computed without printing (no daemon needed).
@Suite("khactl spec / export commands")
struct SpecCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/pcs")

    static func temporary(_ text: String, suffix: String) throws -> String {
        let path = NSTemporaryDirectory() + "khactl-spec-\(UUID().uuidString)\(suffix)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("spec validate accepts the issue example")
    func validateGood() throws {
        let command = try SpecValidate.parse(["-f", Self.fixtures.appendingPathComponent("issue-example/spec.yaml").path])
        let result = command.result()
        #expect(result.status == 0)
        #expect(result.stdout.hasSuffix("spec.yaml: valid\n"))
    }

    @Test("spec validate lists every problem with its position, and fails")
    func validateBad() throws {
        let path = try Self.temporary(
            "resources:\n  - {id: vip, agent: \"ocf:heartbeat:IPaddr2\", params: {ip: 10.0.0.300, cidr_netmask: \"40\"}}\n",
            suffix: ".yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try SpecValidate.parse(["-f", path]).result()
        #expect(result.status == 1)
        #expect(
            result.stderr == """
                error: \(path):2:5: primitive 'vip': parameter ip '10.0.0.300' is not an IPv4 or IPv6 address
                error: \(path):2:5: primitive 'vip': parameter cidr_netmask '40' is not a prefix length (0 to 32)
                2 problems in \(path)

                """)
    }

    @Test("spec validate --json prints the problems as JSON")
    func validateJSON() throws {
        let path = try Self.temporary(
            "resources:\n  - {id: x, agent: \"lsb:x\", meta: {interleave: \"true\"}}\n", suffix: ".yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try SpecValidate.parse(["-f", path, "--json"]).result()
        // Pacemaker accepts (and ignores) a clone's meta attribute on a primitive: a warning, exit 0.
        #expect(result.status == 0)
        let decoded = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: String]]
        #expect(decoded?.map { [$0["code"], $0["severity"]] } == [["clone-meta-on-non-clone", "warning"]])
    }

    @Test("export --format pcs prints the pcs script; a bad spec renders nothing")
    func exportPCS() throws {
        let good = try Export.parse([
            "-f", Self.fixtures.appendingPathComponent("vip-monitor-30s/spec.yaml").path, "--format", "pcs",
        ])
        #expect(
            good.result().stdout
                == "pcs resource create VIP ocf:heartbeat:IPaddr2 cidr_netmask=32 ip=198.18.0.100 op monitor interval=30s --no-default-ops\n"
        )
        let path = try Self.temporary("resources:\n  - {id: \"1x\", agent: \"lsb:x\"}\n", suffix: ".yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bad = try Export.parse(["-f", path, "--format", "xml"]).result()
        #expect(bad.status == 1 && bad.stdout.isEmpty)
    }

    @Test("spec from-cib writes the spec of a pcs-made CIB")
    func fromCIB() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("order-optional/cib.xml"))
        let result = SpecFromCIB.result(cibData: data, name: "cib.xml")
        #expect(result.status == 0 && result.stderr.isEmpty)
        #expect(result.stdout.contains("- order: {first: VIP, then: haproxy-clone, kind: Optional}"))
    }

    @Test("spec schema is the library's schema")
    func schema() throws {
        _ = try SpecSchemaCommand.parse([])
        #expect(SpecSchema.json.contains("\"$schema\""))
    }
}

@Suite("khactl spec validate: warnings")
struct SpecCommandWarningTests {
    @Test("a misspelt clone option is a warning: printed, but the spec is valid")
    func warning() throws {
        let path = NSTemporaryDirectory() + "khactl-spec-\(UUID().uuidString).yaml"
        try "resources:\n  - {id: x, agent: \"lsb:x\", clone: {interleve: \"true\"}}\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try SpecValidate.parse(["-f", path]).result()
        #expect(result.status == 0)
        #expect(
            result.stderr
                == "warning: \(path):2:36: clone 'x-clone': meta attribute 'interleve' is not one Pacemaker reads (a typo?)\n")
    }
}
