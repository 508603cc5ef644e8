import Foundation
import Testing

@testable import Pacemaker

@Suite("Validator")
struct ValidatorTests {
    @Test(
        "durations",
        arguments: [
            ("10s", true), ("1m", true), ("500ms", true), ("PT10S", true), ("P1DT2H", true), ("0", true),
            ("15", true), ("5min", true), ("2h", true), ("1hr", true), ("10 s", true), ("100us", true),
            // As Pacemaker 2.1's `iso8601 --duration` reads them: P10S is 10 s, PT is zero, any order.
            ("P10S", true), ("PT", true), ("P1H", true), ("PT1S2M", true), ("P1Y2M3DT4H5M6S", true),
            ("", false), ("s", false), ("10x", false), ("P", false), ("-5s", false), ("1.5s", false),
            ("PT10", false), ("PT1.5S", false), ("P1s", false), ("P 1S", false),
        ])
    func durations(_ text: String, _ valid: Bool) {
        #expect(Validator.isValidDuration(text) == valid)
    }

    @Test(
        "scores",
        arguments: [
            ("INFINITY", true), ("-INFINITY", true), ("+INFINITY", true), ("100", true), ("-100", true), ("+5", true),
            ("0", true), ("infinity", false), ("inf", false), ("", false), ("1.5", false), ("--1", false),
            ("10a", false),
        ])
    func scores(_ text: String, _ valid: Bool) {
        #expect(Validator.isValidScore(text) == valid)
    }

    @Test(
        "ids",
        arguments: [
            ("vip", true), ("_x", true), ("haproxy-clone", true), ("a.b_c-1", true), ("1vip", false), ("-a", false),
            ("a b", false), ("a:b", false), ("", false), ("a/b", false),
        ])
    func ids(_ text: String, _ valid: Bool) {
        #expect(Validator.isValidID(text) == valid)
    }

    @Test(
        "addresses",
        arguments: [
            ("198.18.0.100", 4), ("0.0.0.0", 4), ("2001:db8::1", 6), ("::1", 6), ("198.18.0.256", nil), ("vip", nil),
            ("198.18.0", nil), ("2001:db8:::1", nil),
        ] as [(String, Int?)])
    func addresses(_ text: String, _ version: Int?) {
        #expect(Validator.ipVersion(text) == version)
    }

    static func order(
        _ first: String, _ then: String, kind: OrderKind? = nil, actions: (String, String) = ("start", "start")
    )
        -> Constraint
    {
        .order(OrderConstraint(first: first, then: then, firstAction: actions.0, thenAction: actions.1, kind: kind))
    }

    static func config(_ constraints: [Constraint]) -> Configuration {
        let ids = ["a", "b", "c"]
        return Configuration(
            resources: ids.map {
                .primitive(
                    Primitive(
                        id: $0, agent: ResourceAgent(class: .systemd, type: $0),
                        operations: [
                            Operation(name: "monitor", interval: "60s")
                        ]))
            },
            constraints: constraints)
    }

    @Test("a three-resource mandatory cycle is reported once")
    func threeCycle() {
        let problems = Validator.validate(
            Self.config([Self.order("a", "b"), Self.order("b", "c"), Self.order("c", "a")]))
        #expect(problems.map(\.code) == ["order-cycle"])
        #expect(problems.first?.message.contains("start a -> start b -> start c -> start a") == true)
    }

    @Test("optional orders, and start/stop in opposite directions, are not cycles")
    func notCycles() {
        #expect(Validator.validate(Self.config([Self.order("a", "b"), Self.order("b", "a", kind: .optional)])) == [])
        #expect(
            Validator.validate(Self.config([Self.order("a", "b"), Self.order("b", "a", actions: ("stop", "stop"))]))
                == [])
    }

    @Test("a cycle through a sequential resource set is found")
    func setCycle() {
        let set = Constraint.order(OrderConstraint(sets: [ResourceSet(resources: ["a", "b"])]))
        let problems = Validator.validate(Self.config([set, Self.order("b", "a")]))
        #expect(problems.map(\.code) == ["order-cycle"])
    }

    @Test("a non-sequential set orders nothing inside itself")
    func nonSequentialSet() {
        let set = Constraint.order(
            OrderConstraint(sets: [
                ResourceSet(resources: ["a", "b"], options: [NVPair(name: "sequential", value: "false")])
            ]))
        #expect(Validator.validate(Self.config([set, Self.order("b", "a")])) == [])
    }

    @Test("the model of every corpus CIB can be validated, and duplicate ids across opaque elements are seen", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent))
    func corpus() throws {
        let files = Paths.corpusFiles()
        #expect(!files.isEmpty)
        for file in files {
            let model = try CIBParser.parse(data: Data(contentsOf: file)).configuration
            let problems = Validator.validate(model)
            #expect(!problems.contains { $0.code == "duplicate-id" }, "\(file.lastPathComponent): \(problems)")
        }
    }

    @Test("constraints that reference resources inside opaque elements (bundles) resolve (a corpus CIB)", .enabled(if: Paths.corpusPresent, Paths.corpusAbsent))
    func referencesIntoOpaque() throws {
        let file = Paths.corpus.appendingPathComponent("bundle-probe-order-2.xml")
        let model = try CIBParser.parse(data: Data(contentsOf: file)).configuration
        #expect(!Validator.validate(model).contains { $0.code == "unknown-reference" })
    }
}

@Suite("Model accessors")
struct ModelAccessorTests {
    @Test("clone options read from the clone's meta attributes")
    func cloneOptions() throws {
        let spec = try SpecFile.load(
            path: Paths.pcsFixtures.appendingPathComponent("clone-globally-unique/spec.yaml").path)
        guard case .clone(let clone) = spec.configuration.resources.first else {
            Issue.record("expected a clone")
            return
        }
        #expect(clone.id == "u-clone")
        #expect(clone.globallyUnique == true)
        #expect(clone.cloneMax == 4)
        #expect(clone.cloneNodeMax == 2)
        #expect(clone.interleave == nil)
        #expect(!clone.isPromotable)
    }

    @Test("a clone made in code renders like pcs's")
    func cloneInCode() throws {
        let haproxy = Primitive(
            id: "haproxy", agent: ResourceAgent(parsing: "lsb:haproxy"),
            operations: [Operation(name: "monitor", interval: "2s")])
        let config = Configuration(resources: [.clone(Clone(of: .primitive(haproxy), meta: ["interleave": "true"]))])
        let xml = CIBRenderer.renderConfiguration(config)
        #expect(
            xml.contains("<nvpair id=\"haproxy-clone-meta_attributes-interleave\" name=\"interleave\" value=\"true\""))
        #expect(haproxy.parameter("ip") == nil)
    }
}
