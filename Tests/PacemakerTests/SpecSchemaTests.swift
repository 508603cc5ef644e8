import Foundation
import Testing

@testable import Pacemaker

@Suite("Spec JSON Schema")
struct SpecSchemaTests {
    static func schema() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(SpecSchema.json.utf8))
        return try #require(object as? [String: Any])
    }

    static func keys(_ definition: String, in schema: [String: Any]) throws -> Set<String> {
        let defs = try #require(schema["$defs"] as? [String: Any])
        let def = try #require(defs[definition] as? [String: Any])
        let properties = try #require(def["properties"] as? [String: Any])
        return Set(properties.keys)
    }

    @Test("the schema is JSON and names exactly the keys the loader accepts")
    func keysMatchLoader() throws {
        let schema = try Self.schema()
        let top = try #require(schema["properties"] as? [String: Any])
        #expect(Set(top.keys) == SpecCompiler.topKeys)
        #expect(try Self.keys("primitive", in: schema) == SpecCompiler.primitiveKeys)
        #expect(try Self.keys("group", in: schema) == SpecCompiler.groupKeys)
        #expect(try Self.keys("clone", in: schema) == SpecCompiler.cloneKeys)
        #expect(try Self.keys("operation", in: schema) == SpecCompiler.operationKeys)
        #expect(try Self.keys("order", in: schema) == SpecCompiler.orderKeys)
        #expect(try Self.keys("colocation", in: schema) == SpecCompiler.colocationKeys)
        #expect(try Self.keys("location", in: schema) == SpecCompiler.locationKeys)
        #expect(try Self.keys("resourceSet", in: schema) == SpecCompiler.setKeys)
    }

    /// Debian's python3 with python3-jsonschema and python3-yaml, which Scripts/install-deps.sh installs;
    /// when they are missing the tests fail saying so (no silent skip).
    static let python = "/usr/bin/python3"

    static func requireJSONSchema() throws {
        let (status, output) = try run(python, ["-c", "import jsonschema, yaml"])
        guard status == 0 else {
            throw SchemaToolMissing(description: "needs \(python) with jsonschema and yaml (run Scripts/install-deps.sh): \(output)")
        }
    }

    struct SchemaToolMissing: Error, CustomStringConvertible { let description: String }

    @Test(
        "every fixture spec validates against the schema (python3-jsonschema)",
        arguments: Paths.scenarios())
    func fixturesValidate(scenario: String) throws {
        try Self.requireJSONSchema()
        let schemaPath = try temporaryFile(SpecSchema.json, suffix: ".json")
        defer { try? FileManager.default.removeItem(atPath: schemaPath) }
        let specPath = Paths.pcsFixtures.appendingPathComponent("\(scenario)/spec.yaml").path
        let script = """
            import json, sys, yaml, jsonschema
            jsonschema.validate(yaml.safe_load(open(sys.argv[2])), json.load(open(sys.argv[1])))
            """
        let (status, output) = try run(Self.python, ["-c", script, schemaPath, specPath])
        #expect(status == 0, "\(output)")
    }

    @Test(
        "the schema rejects a misspelt key")
    func rejectsUnknownKey() throws {
        try Self.requireJSONSchema()
        let schemaPath = try temporaryFile(SpecSchema.json, suffix: ".json")
        defer { try? FileManager.default.removeItem(atPath: schemaPath) }
        let specPath = try temporaryFile("resources:\n  - {id: x, agent: \"lsb:x\", parms: {a: b}}\n", suffix: ".yaml")
        defer { try? FileManager.default.removeItem(atPath: specPath) }
        let script = """
            import json, sys, yaml, jsonschema
            jsonschema.validate(yaml.safe_load(open(sys.argv[2])), json.load(open(sys.argv[1])))
            """
        let (status, _) = try run(Self.python, ["-c", script, schemaPath, specPath])
        #expect(status != 0)
    }
}
