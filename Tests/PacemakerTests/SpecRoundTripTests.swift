import Foundation
import Testing

@testable import Pacemaker

@Suite("CIB -> spec -> CIB")
struct SpecRoundTripTests {
    @Test("a pcs-made CIB survives CIB -> spec -> CIB exactly", arguments: Paths.scenarios())
    func pcsGolden(scenario: String) throws {
        let golden = try String(
            contentsOf: Paths.pcsFixtures.appendingPathComponent("\(scenario)/cib.xml"), encoding: .utf8)
        let model = try CIBParser.parse(xml: golden).configuration
        let export = SpecFile.export(Spec(from: model))
        #expect(export.omitted == [])
        let reread = try SpecFile.parse(export.yaml, file: "\(scenario).yaml")
        #expect(
            try canonicalConfiguration(ofCIB: CIBRenderer.render(reread.configuration))
                == canonicalConfiguration(ofCIB: golden), "spec:\n\(export.yaml)")
    }

    @Test("the spec written from a corpus CIB reads back with every resource and constraint", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent), arguments: Paths.corpusFiles())
    func corpusSpecReadsBack(file: URL) throws {
        let model = try CIBParser.parse(data: Data(contentsOf: file)).configuration
        let export = SpecFile.export(Spec(from: model))
        let reread = try SpecFile.parse(export.yaml, file: file.lastPathComponent + ".yaml")
        // Nothing is left out: what the keys cannot spell is carried as `xml:`.
        #expect(export.omitted == [])
        #expect(reread.configuration.allResources.map(\.id) == model.allResources.map(\.id))
        #expect(reread.configuration.constraints.map(\.id) == model.constraints.map(\.id))
        #expect(reread.configuration.otherSections.map(\.name) == model.otherSections.map(\.name))
    }

    @Test("a spec that expresses everything survives spec -> CIB -> spec -> CIB")
    func specFixedPoint() throws {
        let yaml = try String(
            contentsOf: Paths.pcsFixtures.appendingPathComponent("issue-example/spec.yaml"), encoding: .utf8)
        let first = try SpecFile.parse(yaml)
        let xml = CIBRenderer.render(first.configuration)
        let second = try SpecFile.parse(SpecFile.yaml(Spec(from: try CIBParser.parse(xml: xml).configuration)))
        #expect(second.configuration == first.configuration)
    }
}
