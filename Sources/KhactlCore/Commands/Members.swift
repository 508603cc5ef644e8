import ArgumentParser
import Corosync

/// The endpoint chosen with `--netns`.
package struct CorosyncEndpointOption: Sendable {
    /// The namespace path, if any.
    package let path: String?

    /// The library's endpoint.
    package var endpoint: CorosyncEndpoint { CorosyncEndpoint(networkNamespace: path) }
}

/// `khactl members`: this node, quorum, votes, members with names and addresses, and CPG groups.
package struct Members: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Show the local node, quorum, votes, the members with names and addresses, and CPG groups."
    )

    @OptionGroup package var global: GlobalOptions

    package init() {}

    package func run() async throws {
        let report: MembershipReport
        do {
            report = try await MembershipReport.read(from: global.endpoint.endpoint)
        } catch {
            throw CLIError(String(describing: error))
        }
        switch global.output {
        case .json: print(report.json.line)
        case .text: print(report.text)
        }
    }
}
