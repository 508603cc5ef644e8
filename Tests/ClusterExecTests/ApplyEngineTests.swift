import ClusterExec
import Foundation
import FoundationXML
import Pacemaker
import Testing
import TestSupport

/// The apply engine on CIB files, with the real crm_verify, crm_diff, cibadmin and pcs (`CIB_file`).
@Suite("apply engine on CIB files")
struct ApplyEngineTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A private folder with an empty CIB file (`cibadmin --empty`).
    static func spec(_ yaml: String) throws -> Configuration {
        let spec = try SpecFile.parse(yaml, file: "test.yaml")
        let errors = Validator.validate(spec).filter { $0.severity == .error }
        #expect(errors.isEmpty, "spec problems: \(errors)")
        return spec.configuration
    }

    static func labSpec() throws -> Configuration {
        try SpecFile.load(path: fixtures.appendingPathComponent("apply/lab-control-plane.yaml").path).configuration
    }

    @Test("apply to an empty CIB, then again: the second run plans nothing and leaves the file byte for byte")
    func idempotent() async throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        let desired = try Self.labSpec()
        let first = try await cib.engine().apply(desired)
        #expect(first.written)
        #expect(first.plan.steps.count == 8)
        #expect(first.plan.steps.allSatisfy { $0.action == .add })
        let before = cib.text
        let second = try await cib.engine().apply(desired)
        #expect(!second.written)
        #expect(second.plan.isEmpty)
        #expect(cib.text == before)
        // Everything khactl made is listed in its tag, which crm_verify accepts.
        #expect(before.contains(#"<tag id="khactl-managed">"#))
        for id in ["vip", "haproxy-clone", "apiserver-clone", "control", "colocation-vip-haproxy-clone-INFINITY"] {
            #expect(before.contains(#"<obj_ref id="\#(id)"/>"#), "\(id) not owned")
        }
        _ = try toolOutput("crm_verify", ["--xml-file", cib.path])
    }

    @Test("a changed attribute is one modify in the patch; nothing is deleted or created again")
    func changeIsAPatch() async throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        _ = try await cib.engine().apply(try Self.labSpec())
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("apply/lab-control-plane.yaml"), encoding: .utf8)
        let changed = try Self.spec(text.replacingOccurrences(of: "198.18.0.100", with: "198.18.0.101"))
        let recorder = RecordingRunner()
        var options = ApplyOptions()
        options.cibFile = cib.path
        let result = try await ApplyEngine(options: options, runner: recorder).apply(changed)
        #expect(result.plan.steps.map(\.description) == ["~ change primitive vip\n    instance_attributes ip: 198.18.0.100 -> 198.18.0.101"])
        let patch = try #require(recorder.outputs.first { $0.0.executable == "crm_diff" }?.1.standardOutput)
        // One modify of the nvpair, besides the version attributes on /cib.
        let operations = patch.matches(of: #/<change operation="(\w+)" path="([^"]*)"/#).map { "\($0.output.1) \($0.output.2)" }
        #expect(
            operations.filter { $0 != "modify /cib" } == [
                "modify /cib/configuration/resources/primitive[@id=&apos;vip&apos;]/instance_attributes[@id=&apos;vip-instance_attributes&apos;]/nvpair[@id=&apos;vip-instance_attributes-ip&apos;]"
            ], "patch: \(patch)")
        // The write is the versioned patch, not a replace.
        #expect(recorder.outputs.contains { $0.0.executable == "cibadmin" && $0.0.arguments.first == "--patch" })
        #expect(!recorder.outputs.contains { $0.0.arguments.contains("--replace") })
    }

    @Test("objects khactl did not make are never changed: a clash is refused unless --adopt, others are left alone")
    func ownership() async throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        // Someone else's resources, made with pcs.
        _ = try toolOutput("pcs", ["-f", cib.path, "resource", "create", "vip", "ocf:pacemaker:Dummy", "--no-default-ops"])
        _ = try toolOutput("pcs", ["-f", cib.path, "resource", "create", "theirs", "ocf:pacemaker:Dummy", "--no-default-ops"])
        let before = cib.text
        await #expect(throws: PlanError.self) { try await cib.engine().apply(try Self.labSpec()) }
        do {
            _ = try await cib.engine().apply(try Self.labSpec())
        } catch let error as PlanError {
            #expect(error.problems == ["primitive vip exists in the CIB and was not made by khactl; run with --adopt to manage it (its definition differs from the spec)"])
        }
        #expect(cib.text == before, "a refused plan wrote")
        let adopted = try await cib.engine { $0.plan.adopt = true }.apply(try Self.labSpec())
        let adopt = try #require(adopted.plan.steps.first { $0.action == .adopt })
        #expect(adopt.label == "primitive vip")
        #expect(adopt.changes.contains { $0.path == "type" && $0.old == "Dummy" && $0.new == "IPaddr2" })
        // `theirs` is untouched, and never owned.
        let after = cib.text
        let theirs = try Self.element("theirs", in: before)
        #expect(theirs.hasPrefix(#"<primitive class="ocf" id="theirs" provider="pacemaker" type="Dummy">"#), "\(theirs)")
        #expect(try Self.element("theirs", in: after) == theirs)
        #expect(!after.contains(#"<obj_ref id="theirs"/>"#))
        #expect(after.contains(#"<obj_ref id="vip"/>"#))
        let prune = try await cib.engine { $0.plan.prune = true }.apply(try Self.spec("resources: []\n"))
        #expect(prune.plan.steps.allSatisfy { $0.action == .remove })
        #expect(cib.text.contains(#"id="theirs""#), "--prune removed an object khactl does not own")
        #expect(!cib.text.contains(#"id="vip""#))
    }

    /// The primitive `id` as written in `cib`, canonical (attributes sorted, no whitespace between elements).
    static func element(_ id: String, in cib: String) throws -> String {
        let document = try XMLDocument(xmlString: cib, options: [])
        let found = try #require(try document.nodes(forXPath: "//primitive[@id='\(id)']").first as? XMLElement, "no primitive \(id)")
        func canonical(_ element: XMLElement) -> String {
            let attributes = (element.attributes ?? []).map { "\($0.name ?? "")=\"\($0.stringValue ?? "")\"" }.sorted()
            let children = (element.children ?? []).compactMap { $0 as? XMLElement }.map(canonical).joined()
            return "<\(element.name ?? "") \(attributes.joined(separator: " "))>\(children)</\(element.name ?? "")>"
        }
        return canonical(found)
    }

    @Test("--prune removes only owned objects that left the spec; without it they stay and the plan says so")
    func prune() async throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        let two = try Self.spec("""
            resources:
              - {id: a, agent: "ocf:pacemaker:Dummy"}
              - {id: b, agent: "ocf:pacemaker:Dummy"}
            constraints:
              - order: {first: a, then: b}
            """)
        _ = try await cib.engine().apply(two)
        let one = try Self.spec("resources:\n  - {id: a, agent: \"ocf:pacemaker:Dummy\"}\n")
        let kept = try await cib.engine().apply(one)
        #expect(!kept.written)
        #expect(kept.plan.notes.count == 2, "\(kept.plan.notes)")
        #expect(kept.plan.notes.contains("primitive b is khactl's but not in the spec; left in place (--prune removes it)"))
        let pruned = try await cib.engine { $0.plan.prune = true }.apply(one)
        #expect(Set(pruned.plan.steps.map(\.description)) == ["- remove primitive b", "- remove rsc_order order-a-b-mandatory"])
        #expect(!cib.text.contains(#"id="b""#))
        #expect(!cib.text.contains(#"<obj_ref id="b"/>"#))
        #expect(cib.text.contains(#"<obj_ref id="a"/>"#))
    }

    @Test("--prune removes a resource that still runs: crm_verify checks the configuration without the status, which calls it an active orphan")
    func pruneRunning() async throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        let two = try Self.spec("resources:\n  - {id: a, agent: \"ocf:pacemaker:Dummy\"}\n  - {id: b, agent: \"ocf:pacemaker:Dummy\"}\n")
        _ = try await cib.engine().apply(two)
        // The status of a node n1 on which b runs (as a live CIB would have it).
        let status = """
            <status><node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>\
            <lrm_resource id="b" type="Dummy" class="ocf" provider="pacemaker"><lrm_rsc_op id="b_last_0" operation_key="b_start_0" \
            operation="start" transition-key="1:1:0:00000000-0000-0000-0000-000000000000" \
            transition-magic="0:0;1:1:0:00000000-0000-0000-0000-000000000000" call-id="2" rc-code="0" op-status="0" interval="0" \
            on_node="n1"/></lrm_resource></lrm_resources></lrm></node_state></status>
            """
        var text = cib.text.replacingOccurrences(of: #"<status\s*/>|<status>\s*</status>"#, with: status, options: .regularExpression)
        text = text.replacingOccurrences(of: #"<nodes\s*/>|<nodes>\s*</nodes>"#, with: #"<nodes><node id="1" uname="n1"/></nodes>"#, options: .regularExpression)
        try text.write(toFile: cib.path, atomically: true, encoding: .utf8)
        let whole = try runTool("/usr/sbin/crm_verify", ["--verbose", "--xml-file", cib.path])
        #expect(whole.status == 0, "the CIB with b in the configuration: \(whole.stderr)")
        let one = try Self.spec("resources:\n  - {id: a, agent: \"ocf:pacemaker:Dummy\"}\n")
        let pruned = try await cib.engine { $0.plan.prune = true }.apply(one)
        #expect(pruned.plan.steps.map(\.description) == ["- remove primitive b"])
        #expect(pruned.written)
        #expect(!cib.text.contains(#"<primitive id="b""#))
        // Pacemaker's status keeps b's history; crm_verify on the whole result warns that b runs (and Pacemaker
        // stops it), which is why the apply checks the configuration alone.
        let after = try runTool("/usr/sbin/crm_verify", ["-VV", "--xml-file", cib.path])
        #expect(after.status != 0)
        #expect(after.stderr.contains("Detected active orphan b running on n1"), "\(after.stderr)")
    }

    @Test("--via pcs and --via cib leave the same configuration, for additions and changes")
    func routesAgree() async throws {
        let byCIB = try CIBFile()
        let byPCS = try CIBFile()
        defer {
            byCIB.remove()
            byPCS.remove()
        }
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("apply/lab-control-plane.yaml"), encoding: .utf8)
        let changed = try Self.spec(
            text.replacingOccurrences(of: "198.18.0.100", with: "198.18.0.101")
                .replacingOccurrences(of: "resource-stickiness: \"100\"", with: "resource-stickiness: \"200\""))
        for desired in [try Self.labSpec(), changed] {
            _ = try await byCIB.engine().apply(desired)
            let pcs = try await byPCS.engine { $0.route = .pcs }.apply(desired)
            #expect(pcs.written)
            #expect(try Self.configuration(byCIB.text) == Self.configuration(byPCS.text))
        }
        let again = try await byPCS.engine { $0.route = .pcs }.apply(changed)
        #expect(!again.written)
    }

    /// The canonical text of a CIB's configuration section.
    static func configuration(_ cib: String) throws -> String {
        let element = try XMLElement(xmlString: cib)
        return CanonicalXML.string(try #require(element.elements(forName: "configuration").first))
    }

    @Test("a CIB that changes under every attempt: bounded retries, then a conflict error; the other writer's changes stay, none of ours land")
    func conflictsExhaustRetries() async throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        let runner = InterferingRunner(cibFile: cib.path)
        var options = ApplyOptions()
        options.cibFile = cib.path
        options.attempts = 4
        do {
            _ = try await ApplyEngine(options: options, runner: runner).apply(try Self.labSpec())
            Issue.record("an apply went through a CIB that changed under every attempt")
        } catch let error as ApplyError {
            #expect(error.isConflict)
            #expect(error.step == "write the patch")
            #expect(error.description.contains("the CIB changed under the apply 4 times in a row, so nothing was written"), "\(error)")
            #expect(error.description.contains("Update was older than existing configuration"), "\(error)")
        }
        #expect(runner.interferences == 4)
        #expect(cib.text.contains(#"name="other-writer" value="4""#))
        #expect(!cib.text.contains(#"id="vip""#))
        #expect(!cib.text.contains("khactl-managed"))
    }

    @Test("an id of the spec taken by another kind of object is refused before anything is written")
    func idClash() async throws {
        let cib = try CIBFile()
        defer { cib.remove() }
        _ = try toolOutput("pcs", ["-f", cib.path, "resource", "create", "x", "ocf:pacemaker:Dummy", "--no-default-ops"])
        let before = cib.text
        let clash = try Self.spec("""
            resources:
              - {id: a, agent: "ocf:pacemaker:Dummy"}
            constraints:
              - location: {id: x, resource: a, node: node1}
            """)
        do {
            _ = try await cib.engine().apply(clash)
            Issue.record("an id clash was applied")
        } catch let error as PlanError {
            #expect(error.problems.contains("rsc_location x: id 'x' is already used by primitive x in the CIB"), "\(error)")
        }
        #expect(cib.text == before)
    }

    @Test("agents that are not installed are found before anything runs")
    func missingAgents() throws {
        let configuration = try Self.spec("""
            resources:
              - {id: a, agent: "ocf:heartbeat:NoSuchAgent"}
              - {id: b, agent: "lsb:no-such-script"}
              - {id: c, agent: "stonith:fence_nosuch"}
              - {id: d, agent: "ocf:pacemaker:Dummy"}
              - {id: e, agent: "systemd:kube-apiserver"}
            """)
        let missing = AgentCheck.missing(in: configuration, environment: ["PATH": "/opt/elsewhere/bin"])
        #expect(missing == [
            "primitive 'a': agent ocf:heartbeat:NoSuchAgent is not installed here (no executable /usr/lib/ocf/resource.d/heartbeat/NoSuchAgent)",
            "primitive 'b': agent lsb:no-such-script is not installed here (no executable /etc/init.d/no-such-script)",
            // Where pacemaker-fenced looks, not the caller's PATH.
            "primitive 'c': agent stonith:fence_nosuch is not installed here (no executable /usr/sbin/fence_nosuch)",
        ])
    }
}

/// A runner that, just before each `cibadmin --patch`, has another writer change the CIB (a real
/// `crm_attribute` write), so every patch khactl made is out of date when it arrives.
final class InterferingRunner: CommandRunner, @unchecked Sendable {
    let cibFile: String
    private let lock = NSLock()
    private var writes = 0

    init(cibFile: String) { self.cibFile = cibFile }

    var interferences: Int { lock.withLock { writes } }

    func run(_ command: Command) async throws(CommandError) -> CommandOutput {
        if command.executable == "cibadmin" && command.arguments.first == "--patch" {
            let count = lock.withLock { writes += 1; return writes }
            _ = try await SubprocessRunner().check(
                Command(
                    "crm_attribute", ["--type", "crm_config", "--name", "other-writer", "--update", "\(count)"],
                    environment: ["CIB_file": cibFile]))
        }
        return try await SubprocessRunner().run(command)
    }
}

/// A runner that runs for real and records each command with its output.
final class RecordingRunner: CommandRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [(Command, CommandOutput)] = []

    var outputs: [(Command, CommandOutput)] { lock.withLock { recorded } }

    func run(_ command: Command) async throws(CommandError) -> CommandOutput {
        let output = try await SubprocessRunner().run(command)
        lock.withLock { recorded.append((command, output)) }
        return output
    }
}

