import Foundation
import FoundationXML
import Pacemaker
import Testing
import TestSupport

@testable import ClusterExec

/// The shared corpus of real CIBs (Pacemaker's scheduler regression set), read-only. CI has it beside the
/// package; a person who cloned the repository alone does not, and these tests are then skipped.
enum AdoptCorpus {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("../shared/corpora/pacemaker-cib-sample").standardized

    static func files() -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        return names.filter { $0.hasSuffix(".xml") }.sorted().map { folder.appendingPathComponent($0) }
    }

    static var present: Bool { !files().isEmpty }
    static let absent: Comment =
        "../shared/corpora/pacemaker-cib-sample is absent (only CI has it beside the package): the adopt corpus tests are skipped"

    /// The `<configuration>` of a CIB text.
    static func configuration(_ xml: String) throws -> XMLElement {
        let root = try #require(try XMLDocument(xmlString: xml, options: []).rootElement())
        return root.name == "configuration" ? root : try #require(root.elements(forName: "configuration").first)
    }

    /// A canonical text of a configuration that ignores only what Pacemaker gives no meaning to: attribute
    /// order, whitespace, and the order of siblings, except where it carries meaning: the members of a group,
    /// the resources of a resource set, the resources of the resources section (allocation order), and the
    /// pairs of a set that names one twice (the first wins). Ids, every attribute and every element count.
    static func canonical(_ element: XMLElement) -> String {
        let name = element.name ?? ""
        let attributes = (element.attributes ?? []).map { "\($0.name ?? "")=\"\($0.stringValue ?? "")\"" }.sorted()
        let children = (element.children ?? []).compactMap { $0 as? XMLElement }
        let names = children.filter { $0.name == "nvpair" }.map { $0.attribute(forName: "name")?.stringValue ?? "" }
        let keepsOrder =
            ["group", "resource_set", "resources"].contains(name) || Set(names).count != names.count
        let texts = children.enumerated().map { ($1.name ?? "", $0, canonical($1)) }
        let ordered =
            keepsOrder
            ? texts.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
            : texts.map(\.2).sorted()
        return "<\(name) \(attributes.joined(separator: " "))>" + ordered.joined() + "</\(name)>"
    }

    /// The configuration without the cluster-state constraints (`cli-prefer-*`, `cli-ban-*`), which `spec
    /// from-cib` leaves out on purpose: they are moves, not configuration.
    static func withoutClusterState(_ configuration: XMLElement) -> XMLElement {
        let copy = configuration.copy() as! XMLElement
        for constraints in copy.elements(forName: "constraints") {
            for case let c as XMLElement in constraints.children ?? []
            where ClusterStateObjects.isTemporaryConstraint(c.attribute(forName: "id")?.stringValue ?? "") {
                c.detach()
            }
        }
        return copy
    }
    /// The three checks of adopting `xml`: its spec validates (warnings allowed), exports to the same
    /// configuration, and `plan --adopt` changes nothing but the ownership tag.
    static func checkAdopt(_ xml: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let cib = try CIBParser.parse(xml: xml)
        // 1. spec from-cib, read back as a user's file is, and validated: warnings allowed, no error.
        let yaml = SpecFile.export(Spec(from: ClusterStateObjects.removed(from: cib.configuration))).yaml
        let spec = try SpecFile.parse(yaml, file: "spec.yaml")
        let errors = Validator.validate(spec).filter { $0.severity == .error }
        #expect(errors.map(\.description) == [], sourceLocation: sourceLocation)
        // 2. Exporting the spec gives the CIB's configuration, element for element and id for id.
        let exported = CIBRenderer.configurationElement(spec.configuration)
        let original = AdoptCorpus.withoutClusterState(try AdoptCorpus.configuration(xml))
        #expect(AdoptCorpus.canonical(exported) == AdoptCorpus.canonical(original), sourceLocation: sourceLocation)
        // 3. plan --adopt: nothing to add, change or remove; every step is an adoption without changes.
        let plan = try Planner.plan(liveCIB: xml, desired: spec.configuration, options: PlanOptions(adopt: true))
        let changing = plan.steps.filter { $0.action != .adopt || !$0.changes.isEmpty }
        #expect(changing.map { "\($0.action) \($0.label): \($0.changes)" } == [], sourceLocation: sourceLocation)
        // apply --adopt writes the CIB unchanged but for the ownership tag.
        if let desired = plan.desiredCIB {
            let before = try AdoptCorpus.configuration(xml)
            let after = try AdoptCorpus.configuration(desired)
            let tag = try #require(ManagedObjects.ownershipTagElement(in: after), sourceLocation: sourceLocation)
            let tags = try #require(tag.parent as? XMLElement, sourceLocation: sourceLocation)
            tag.detach()
            if tags.childCount == 0 && before.elements(forName: "tags").isEmpty { tags.detach() }
            #expect(CanonicalXML.string(after) == CanonicalXML.string(before), sourceLocation: sourceLocation)
        }
    }
}

@Suite("Adopting real CIBs: from-cib, validate, export, plan --adopt (the shared corpus)")
struct AdoptCorpusTests {
    @Test(
        "each corpus CIB: its spec validates, exports to the same configuration, and adopts with no change",
        .enabled(if: AdoptCorpus.present, AdoptCorpus.absent), arguments: AdoptCorpus.files())
    func adopt(file: URL) throws {
        try AdoptCorpus.checkAdopt(String(contentsOf: file, encoding: .utf8))
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/adopt")

    @Test("CIBs made by real pcs -f and crm configure scripts, every construct once: the same three checks")
    func madeByTools() throws {
        for tool in ["pcs", "crm"] {
            let empty = try runTool("/usr/sbin/cibadmin", ["--empty"])
            // A private folder: the test runs as root, and /tmp is writable by everyone.
            var template = Array("/tmp/khactl-adopt-XXXXXX".utf8CString)
            let folder = try #require(mkdtemp(&template).map { String(cString: $0) })
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let path = folder + "/cib.xml"
            try empty.stdout.write(toFile: path, atomically: false, encoding: .utf8)
            let made =
                tool == "pcs"
                ? try runTool("/bin/bash", [Self.fixtures.appendingPathComponent("pcs.sh").path, path])
                : try runTool(
                    "/usr/sbin/crm", ["-F", "configure"],
                    stdin: try String(contentsOf: Self.fixtures.appendingPathComponent("crm.txt"), encoding: .utf8) + "commit\n",
                    environment: ["CIB_file": path])
            #expect(made.status == 0, "\(tool): \(made.stderr)")
            let xml = try String(contentsOfFile: path, encoding: .utf8)
            // The script made what it says: one of each kind the spec must carry.
            for kind in ["bundle", "rsc_ticket", "acls", "tags", "fencing-level", "recipient", "resource_set", "rule"] {
                #expect(xml.contains("<\(kind)"), "\(tool) made no \(kind)")
            }
            try AdoptCorpus.checkAdopt(xml)
        }
    }
}

@Suite("Adopting a CIB whose properties live in sets of their own")
struct AdoptPropertySetsTests {
    /// The issue's example: `stonith-enabled` in a set named `no-stonith`, `no-quorum-policy` in another, an order
    /// without actions (crmsh's way), a colocation with one role.
    static let cib = """
        <cib validate-with="pacemaker-3.9" epoch="7" num_updates="0" admin_epoch="0">
          <configuration>
            <crm_config>
              <cluster_property_set id="no-stonith"><nvpair id="opt-no-stonith" name="stonith-enabled" value="false"/></cluster_property_set>
              <cluster_property_set id="cib-bootstrap-options"><nvpair id="nqp" name="no-quorum-policy" value="ignore"/></cluster_property_set>
            </crm_config>
            <nodes/>
            <resources>
              <primitive id="d1" class="ocf" provider="pacemaker" type="Dummy">
                <instance_attributes id="d1-ia"><nvpair id="d1-z" name="z" value="1"/><nvpair id="d1-a" name="a" value="2"/></instance_attributes>
              </primitive>
              <primitive id="d2" class="ocf" provider="pacemaker" type="Dummy"/>
            </resources>
            <constraints>
              <rsc_order id="o1" first="d1" then="d2"/>
              <rsc_colocation id="c1" rsc="d2" with-rsc="d1" rsc-role="Started" score="INFINITY"/>
            </constraints>
          </configuration>
          <status/>
        </cib>
        """

    @Test("from-cib then plan --adopt: every object adopted as it is; the written CIB differs only by the ownership tag")
    func adoptAsIs() throws {
        let cib = try CIBParser.parse(xml: Self.cib)
        let spec = try SpecFile.parse(SpecFile.export(Spec(from: cib.configuration)).yaml)
        let plan = try Planner.plan(liveCIB: Self.cib, desired: spec.configuration, options: PlanOptions(adopt: true))
        #expect(plan.steps.map { "\($0.action) \($0.label) \($0.changes.count)" } == [
            "adopt property stonith-enabled 0", "adopt property no-quorum-policy 0", "adopt primitive d1 0",
            "adopt primitive d2 0", "adopt rsc_order o1 0", "adopt rsc_colocation c1 0",
        ])
        let after = try AdoptCorpus.configuration(try #require(plan.desiredCIB))
        let tags = try #require(after.elements(forName: "tags").first)
        #expect(tags.elements(forName: "tag").map { $0.attribute(forName: "id")?.stringValue } == ["khactl-managed"])
        tags.detach()
        #expect(CanonicalXML.string(after) == CanonicalXML.string(try AdoptCorpus.configuration(Self.cib)))
    }

    @Test("a spec that sets a property by name changes it in the set it lives in, never adding a second copy")
    func propertyElsewhere() throws {
        let spec = try SpecFile.parse("properties: {stonith-enabled: \"true\"}\n")
        #expect(spec.configuration.properties.map(\.id) == ["cib-bootstrap-options"])
        let plan = try Planner.plan(liveCIB: Self.cib, desired: spec.configuration, options: PlanOptions(adopt: true))
        #expect(plan.steps.map { "\($0.action) \($0.label)" } == ["adopt property stonith-enabled"])
        #expect(plan.steps.first?.changes.map { "\($0.path): \($0.old ?? "-") -> \($0.new ?? "-")" } == ["stonith-enabled: false -> true"])
        let after = try AdoptCorpus.configuration(try #require(plan.desiredCIB))
        let crmConfig = try #require(after.elements(forName: "crm_config").first)
        #expect(
            CanonicalXML.string(crmConfig)
                == CanonicalXML.string(
                    try XMLElement(
                        xmlString: """
                            <crm_config><cluster_property_set id="no-stonith"><nvpair id="opt-no-stonith" name="stonith-enabled" value="true"/></cluster_property_set>\
                            <cluster_property_set id="cib-bootstrap-options"><nvpair id="nqp" name="no-quorum-policy" value="ignore"/></cluster_property_set></crm_config>
                            """)))
    }
}
