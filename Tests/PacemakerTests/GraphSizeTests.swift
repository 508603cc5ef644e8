import Foundation
import Testing

@testable import Pacemaker

@Suite("Graph size")
struct GraphSizeTests {
    @Test("a generated graph of 1,000 resources validates clean and round-trips")
    func thousand() throws {
        let config = SyntheticGraph.generate(resources: 1_000)
        #expect(config.allResources.count >= 1_000)
        #expect(Validator.validate(config) == [])
        let xml = CIBRenderer.render(config)
        let back = try CIBParser.parse(xml: xml).configuration
        #expect(back == config.assigningIDs())
    }
}

