import Foundation
import Testing

@testable import Pacemaker

/// A generated resource graph of about `resources` resources: every tenth is a clone, groups of four, a VIP per
/// group, with orders and colocations chaining them, as a big control plane would have.
func generatedGraph(resources: Int) -> Configuration {
    var config = Configuration(properties: [AttributeSet(["stonith-enabled": "false"])])
    var count = 0
    var previous: String?
    var g = 0
    while count < resources {
        let group = "g\(g)"
        let members: [Resource] = (0..<4).map { i in
            .primitive(
                Primitive(
                    id: "\(group)-svc\(i)", agent: ResourceAgent(class: .systemd, type: "svc\(i)"),
                    metaAttributes: [AttributeSet(["resource-stickiness": "100"])],
                    operations: [Operation(name: "monitor", interval: "10s", timeout: "20s")]))
        }
        let groupResource = Resource.group(Group(id: group, members: members))
        let top: Resource
        if g % 10 == 0 {
            top = .clone(
                Clone(
                    id: "\(group)-clone", child: groupResource, metaAttributes: [AttributeSet(["interleave": "true"])]))
        } else {
            top = groupResource
        }
        let vip = "\(group)-vip"
        config.resources.append(
            .primitive(
                Primitive(
                    id: vip, agent: ResourceAgent(class: .ocf, provider: "heartbeat", type: "IPaddr2"),
                    instanceAttributes: [
                        AttributeSet(["ip": "198.18.\(g / 250 % 256).\(g % 250 + 1)", "cidr_netmask": "32"])
                    ],
                    operations: [Operation(name: "monitor", interval: "2s")])))
        config.resources.append(top)
        let topID = top.id ?? group
        config.constraints.append(
            .order(OrderConstraint(first: vip, then: topID, firstAction: "start", thenAction: "start", kind: .optional))
        )
        config.constraints.append(.colocation(ColocationConstraint(resource: vip, with: topID, score: "INFINITY")))
        if let previous {
            config.constraints.append(
                .order(OrderConstraint(first: previous, then: topID, firstAction: "start", thenAction: "start")))
        }
        config.constraints.append(.location(LocationConstraint(resource: vip, node: "node\(g % 3 + 1)", score: "100")))
        previous = topID
        count += 6 + (g % 10 == 0 ? 1 : 0)
        g += 1
    }
    return config
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

@Suite("Graph size")
struct GraphSizeTests {
    @Test("a generated graph of 1,000 resources validates clean and round-trips")
    func thousand() throws {
        let config = generatedGraph(resources: 1_000)
        #expect(config.allResources.count >= 1_000)
        #expect(Validator.validate(config) == [])
        let xml = CIBRenderer.render(config)
        let back = try CIBParser.parse(xml: xml).configuration
        #expect(back == config.assigningIDs())
    }
}

/// Prints timings for 100 / 1,000 / 10,000 resources. Run by Scripts/bench-graph.sh (KHACTL_BENCH=1, release).
@Suite("Benchmark", .enabled(if: ProcessInfo.processInfo.environment["KHACTL_BENCH"] == "1", "set KHACTL_BENCH=1"))
struct BenchmarkTests {
    @Test("validate + render, and parse, scale linearly")
    func benchmark() throws {
        var perResource: [Double] = []
        for size in [100, 1_000, 10_000] {
            let config = generatedGraph(resources: size)
            let n = config.allResources.count
            var problems: [ValidationProblem] = []
            var xml = ""
            let validate = seconds { problems = Validator.validate(config) }
            let render = seconds { xml = CIBRenderer.render(config) }
            var parsed: CIB?
            let parse = try seconds { parsed = try CIBParser.parse(xml: xml) }
            print(
                String(
                    format:
                        "BENCH resources=%6d validate=%.3fs render=%.3fs validate+render=%.3fs parse=%.3fs xml=%d bytes",
                    n, validate, render, validate + render, parse, xml.utf8.count))
            #expect(problems.isEmpty)
            #expect(parsed?.configuration.allResources.count == n)
            perResource.append((validate + render + parse) / Double(n))
        }
        // Linear: the per-resource cost at 10,000 is within 3x of the cost at 1,000.
        #expect(perResource[2] < perResource[1] * 3)
    }
}
