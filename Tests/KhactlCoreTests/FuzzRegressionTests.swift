import Foundation
import KhactlCore
import Pacemaker
import Testing
import TestSupport

/// Every input the fuzzing campaigns kept (Fixtures/fuzz/TARGET/: the minimized corpus of `Scripts/fuzz.sh` runs,
/// and any crash, hang or out-of-memory input they found) replayed through the same parser entry the fuzzer
/// drives: each must come back (an error is fine), in bounded time.
@Suite("fuzz corpus regressions")
struct FuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz")

    @Test("the kept corpus of each target", arguments: ParserFuzzing.targets)
    func corpus(target: String) throws {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Self.folder.appendingPathComponent(target).path)) ?? []
        try #require(!files.isEmpty, "no corpus for \(target) in Fixtures/fuzz/\(target)")
        let start = Date()
        for file in files.sorted() {
            let data = try Data(contentsOf: Self.folder.appendingPathComponent(target).appendingPathComponent(file))
            ParserFuzzing.run(target, Array(data))
        }
        print("fuzz corpus \(target): \(files.count) inputs in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }

    @Test("the crm_mon target's finding: '<<' (no element at all) is refused as malformed, as a CIB too")
    func noRootElement() throws {
        let status = try #require(throws: MalformedXMLError.self) { try ClusterStatus(xml: "<<") }
        #expect(status.reason == "the input has no root element")
        let error = try #require(throws: CIBParseError.self) { try CIBParser.parse(xml: "<<") }
        #expect(error.code == "malformedXML")
    }
}
