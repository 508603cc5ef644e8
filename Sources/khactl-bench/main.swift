// khactl-bench: times the resource graph's validate + render of generated graphs of 100, 1,000 and
// 10,000 resources and the parse of the resulting CIB, to show growth (target: <= 1 s each at 10,000,
// linear). Run by Scripts/bench.sh in a release build.
import Foundation
import Pacemaker

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

var perResource: [Double] = []
for size in [100, 1_000, 10_000] {
    let config = SyntheticGraph.generate(resources: size)
    let count = config.allResources.count
    var problems: [ValidationProblem] = []
    var xml = ""
    let validate = seconds { problems = Validator.validate(config) }
    let render = seconds { xml = CIBRenderer.render(config) }
    var parsed = 0
    let parse = try seconds { parsed = try CIBParser.parse(xml: xml).configuration.allResources.count }
    guard problems.isEmpty, parsed == count else {
        FileHandle.standardError.write(Data("khactl-bench: the generated graph of \(count) resources did not validate or round-trip\n".utf8))
        exit(1)
    }
    print(String(format: "graph %6d resources: validate %.3f s, render %.3f s, validate+render %.3f s, parse %.3f s (%d bytes)",
        count, validate, render, validate + render, parse, xml.utf8.count))
    perResource.append((validate + render + parse) / Double(count))
}
print(String(format: "graph growth: per-resource cost at 10,000 is %.2fx the cost at 1,000 (linear is 1x)", perResource[2] / perResource[1]))
