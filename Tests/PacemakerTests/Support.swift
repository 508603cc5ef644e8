import Foundation
import FoundationXML
import Testing

@testable import Pacemaker

/// Paths of the package and its test inputs, computed from this file's location.
enum Paths {
    /// The package root (two levels above Tests/PacemakerTests).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The shared corpus of real CIBs (read-only; never copied into the repository).
    static let corpus = packageRoot.appendingPathComponent("../shared/corpora/pacemaker-cib-sample").standardized
    /// pcs goldens.
    static let pcsFixtures = packageRoot.appendingPathComponent("Fixtures/pcs")

    /// Whether the shared corpus is beside the package. CI has it; a person who cloned the repository alone
    /// does not, and the tests that read it are then skipped with ``corpusAbsent``.
    static var corpusPresent: Bool { !corpusFiles().isEmpty }
    /// Why the corpus tests did not run.
    static let corpusAbsent: Comment = "../shared/corpora/pacemaker-cib-sample is absent (only CI has it beside the package): the corpus tests are skipped"

    /// The corpus CIB files, sorted; empty when the folder is absent.
    static func corpusFiles() -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: corpus.path) else {
            return []
        }
        return names.filter { $0.hasSuffix(".xml") }.sorted().map { corpus.appendingPathComponent($0) }
    }

    /// The scenario folders under Fixtures/pcs, sorted.
    static func scenarios() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: pcsFixtures.path)) ?? []).filter {
            FileManager.default.fileExists(atPath: pcsFixtures.appendingPathComponent("\($0)/cib.xml").path)
        }.sorted()
    }
}

/// The canonical form of the `<configuration>` element of a CIB document.
func canonicalConfiguration(ofCIB xml: String) throws -> String {
    let document = try XMLDocument(xmlString: xml, options: [])
    let root = try #require(document.rootElement())
    let config = root.name == "configuration" ? root : try #require(root.elements(forName: "configuration").first)
    return CanonicalXML.string(config)
}

/// A tool the differential tests run is not installed.
struct ToolMissing: Error, CustomStringConvertible {
    let path: String
    var description: String {
        "\(path) is not installed: the differential tests run real pcs, crmsh and crm_verify (Scripts/install-deps.sh installs them)"
    }
}

/// Runs a tool with an argument array; returns (status, stdout + stderr).
func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil
) throws -> (Int32, String) {
    guard FileManager.default.isExecutableFile(atPath: executable) else {
        throw ToolMissing(path: executable)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Writes `text` to a fresh temporary file and returns its path.
func temporaryFile(_ text: String, suffix: String = ".xml") throws -> String {
    let path = NSTemporaryDirectory() + "khactl-\(UUID().uuidString)\(suffix)"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The canonical configuration with the ids of sub-objects (attribute sets, nvpairs, ops, rules, expressions,
/// recipients, resource sets, levels) removed: tools other than pcs name those their own way.
func canonicalConfigurationIgnoringSubIDs(ofCIB xml: String) throws -> String {
    let document = try XMLDocument(xmlString: xml, options: [])
    let root = try #require(document.rootElement())
    let config = try #require(root.elements(forName: "configuration").first)
    let keep: Set<String> = [
        "primitive", "group", "clone", "rsc_order", "rsc_colocation", "rsc_location", "alert", "node",
    ]
    func strip(_ element: XMLElement) {
        if !keep.contains(element.name ?? "") { element.removeAttribute(forName: "id") }
        for child in element.children ?? [] { if let c = child as? XMLElement { strip(c) } }
    }
    strip(config)
    return CanonicalXML.string(config)
}
