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

    @Test("the spec written from a corpus CIB reads back", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent), arguments: Paths.corpusFiles())
    func corpusSpecReadsBack(file: URL) throws {
        let model = try CIBParser.parse(data: Data(contentsOf: file)).configuration
        let export = SpecFile.export(Spec(from: model))
        let reread = try SpecFile.parse(export.yaml, file: file.lastPathComponent + ".yaml")
        // Every resource the spec could express is back, with the same id.
        let expressed = Set(
            model.allResources.compactMap { r -> String? in
                switch r {
                case .opaque: return nil
                case .primitive(let p) where p.verbatim != nil || p.agent == nil: return nil
                default: return r.id
                }
            })
        let back = Set(reread.configuration.allResources.compactMap(\.id))
        #expect(expressed.subtracting(back).isEmpty, "lost: \(expressed.subtracting(back).sorted())")
        // Constraints of the model typed in full come back, one for one.
        let typedConstraints = model.constraints.filter { c in
            switch c {
            case .opaque: false
            case .order(let o): o.verbatim == nil && o.score == nil
            case .colocation(let o): o.verbatim == nil
            case .location(let o): o.verbatim == nil && o.sets.isEmpty && o.rules.allSatisfy { $0.verbatim == nil }
            }
        }
        #expect(reread.configuration.constraints.count == typedConstraints.count)
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
