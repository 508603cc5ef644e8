import Foundation
import Pacemaker

/// khactl's parsers of untrusted input, one entry per fuzz target: the libFuzzer binary (Fuzz/, Scripts/fuzz.sh)
/// and the corpus regression tests run the same code.
package enum ParserFuzzing {
    /// The targets.
    package static let targets = ["spec-yaml", "spec-json", "cib", "crm-mon", "alert"]

    /// Runs the parser of `target` (and what reads its result) on `bytes`; errors are expected, crashes not.
    package static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "spec-yaml", "spec-json":
            // The deployment spec reader runs the resource graph's loader first, then its own sections.
            if let spec = try? DeploymentSpec.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz") {
                _ = Validator.validate(spec.spec)
            }
        case "cib":
            if let cib = try? CIBParser.parse(data: Data(bytes)) { _ = CIBRenderer.render(cib.configuration) }
        case "crm-mon":
            if let status = try? ClusterStatus(xml: String(decoding: bytes, as: UTF8.self)) { _ = status.placements }
        case "alert":
            if let alert = PacemakerAlert.decode(bytes) { _ = AlertAgentSink.alerts(for: .alert(alert), names: [:]) }
        default:
            preconditionFailure("unknown fuzz target \(target)")
        }
    }
}
