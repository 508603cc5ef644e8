import Foundation
import FoundationXML
import Testing

@testable import Pacemaker

@Suite("Corpus round trip: CIB -> model -> CIB")
struct CorpusRoundTripTests {
    @Test("the corpus folder exists and holds CIBs", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent))
    func corpusPresent() {
        let files = Paths.corpusFiles()
        #expect(
            !files.isEmpty,
            "missing test input: \(Paths.corpus.path) (the shared corpus of real CIBs) must exist next to the package")
    }

    @Test("every corpus CIB renders back to the same configuration", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent), arguments: Paths.corpusFiles())
    func roundTrip(file: URL) throws {
        let xml = try String(contentsOf: file, encoding: .utf8)
        let cib = try CIBParser.parse(xml: xml)
        let rendered = CIBRenderer.render(cib.configuration)
        #expect(try canonicalConfiguration(ofCIB: rendered) == canonicalConfiguration(ofCIB: xml))
    }

    @Test("most of the corpus is read into the typed model, not kept opaque", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent))
    func typedCoverage() throws {
        var typed = 0
        var opaque = 0
        for file in Paths.corpusFiles() {
            let cib = try CIBParser.parse(data: Data(contentsOf: file))
            for r in cib.configuration.allResources {
                switch r {
                case .opaque: opaque += 1
                case .primitive(let p) where p.verbatim != nil: opaque += 1
                default: typed += 1
                }
            }
        }
        #expect(typed > 10 * opaque, "typed \(typed), opaque \(opaque)")
    }
}

/// crm_verify reads a re-rendered corpus CIB exactly as it reads the original: same exit status, same messages.
@Suite("Corpus round trip: crm_verify agrees")
struct CorpusVerifyTests {
    /// The CIB text with an empty status section (status is not part of the model).
    static func withoutStatus(_ xml: String) throws -> String {
        let document = try XMLDocument(xmlString: xml, options: [])
        let root = try #require(document.rootElement())
        for status in root.elements(forName: "status") { status.setChildren(nil) }
        return document.xmlString
    }

    static func verify(_ xml: String) throws -> (Int32, String) {
        let path = try temporaryFile(xml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, output) = try run("/usr/sbin/crm_verify", ["-x", path])
        return (status, output.replacingOccurrences(of: path, with: "FILE"))
    }

    @Test("crm_verify gives the same verdict on the original and the re-rendered CIB", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent), arguments: Paths.corpusFiles())
    func sameVerdict(file: URL) throws {
        let original = try Self.withoutStatus(String(contentsOf: file, encoding: .utf8))
        let cib = try CIBParser.parse(xml: original)
        let rendered = CIBRenderer.render(
            cib.configuration, cibAttributes: cib.attributes.map { ($0.name, $0.value ?? "") })
        let before = try Self.verify(original)
        let after = try Self.verify(rendered)
        #expect(after.0 == before.0)
        #expect(after.1 == before.1)
    }
}

@Suite("Unknown XML is kept verbatim in its place")
struct VerbatimTests {
    static let cib = """
        <cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
          <configuration>
            <crm_config>
              <cluster_property_set id="cib-bootstrap-options">
                <nvpair id="p1" name="stonith-enabled" value="false" future-attr="x"/>
              </cluster_property_set>
            </crm_config>
            <nodes/>
            <resources>
              <primitive id="a" class="ocf" provider="heartbeat" type="Dummy" future="1">
                <operations><op id="a-m" name="monitor" interval="10s"/></operations>
              </primitive>
              <primitive id="b" class="ocf" provider="heartbeat" type="Dummy">
                <operations>
                  <op id="b-m" name="monitor" interval="10s">
                    <instance_attributes id="b-m-ia"><nvpair id="b-m-depth" name="OCF_CHECK_LEVEL" value="10"/></instance_attributes>
                  </op>
                </operations>
              </primitive>
              <primitive id="c" class="ocf" provider="heartbeat" type="Dummy"><operations/></primitive>
              <primitive id="d" class="ocf" provider="heartbeat" type="Dummy"><weird id="w1"/></primitive>
              <group id="g" future="2"><primitive id="e" class="systemd" type="e"/></group>
              <clone id="k"><primitive id="f" class="systemd" type="f"/><primitive id="f2" class="systemd" type="f2"/></clone>
              <bundle id="bu"><docker image="x"/><primitive id="inside" class="ocf" provider="heartbeat" type="Dummy"/></bundle>
            </resources>
            <constraints>
              <rsc_order id="o1" first="a" then="inside" kind="Sometimes"/>
              <rsc_ticket id="t1" rsc="a" ticket="T"/>
            </constraints>
            <tags><tag id="tg"><obj_ref id="a"/></tag></tags>
          </configuration>
          <status/>
        </cib>
        """

    @Test("each unknown attribute or child keeps exactly its element verbatim, and nothing is lost")
    func verbatim() throws {
        let config = try CIBParser.parse(xml: Self.cib).configuration
        #expect(
            try canonicalConfiguration(ofCIB: CIBRenderer.render(config)) == canonicalConfiguration(ofCIB: Self.cib))
        #expect(
            verbatimObjects(config) == [
                "primitive 'a'", "op 'b-m'", "primitive 'c'", "primitive 'd'", "group 'g'", "clone 'k'", "bundle 'bu'",
                "order",
                "rsc_ticket 't1'", "set 'cib-bootstrap-options'",
            ])
        // Even verbatim, objects keep their ids for validation: the order into the bundle resolves.
        #expect(!Validator.validate(config).contains { $0.code == "unknown-reference" })
        #expect(config.otherSections.map(\.name) == ["tags"])
    }
}
