import Foundation
import Testing

@testable import Pacemaker

@Suite("Corpus round trip: CIB -> model -> CIB")
struct CorpusRoundTripTests {
    @Test("the corpus folder exists and holds CIBs")
    func corpusPresent() {
        let files = Paths.corpusFiles()
        #expect(
            !files.isEmpty,
            "missing test input: \(Paths.corpus.path) (the shared corpus of real CIBs) must exist next to the package")
    }

    @Test("every corpus CIB renders back to the same configuration", arguments: Paths.corpusFiles())
    func roundTrip(file: URL) throws {
        let xml = try String(contentsOf: file, encoding: .utf8)
        let cib = try CIBParser.parse(xml: xml)
        let rendered = CIBRenderer.render(cib.configuration)
        #expect(try canonicalConfiguration(ofCIB: rendered) == canonicalConfiguration(ofCIB: xml))
    }

    @Test("most of the corpus is read into the typed model, not kept opaque")
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
