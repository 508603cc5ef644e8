import ArgumentParser
import Corosync

/// The endpoint chosen with `--netns`.
public struct CorosyncEndpointOption: Sendable {
    /// The namespace path, if any.
    public let path: String?

    /// The library's endpoint.
    public var endpoint: CorosyncEndpoint { CorosyncEndpoint(networkNamespace: path) }
}

/// `khactl members`: this node, quorum, votes, members with names and addresses, and CPG groups.
public struct Members: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Show the local node, quorum, votes, the members with names and addresses, and CPG groups."
    )

    @OptionGroup public var global: GlobalOptions

    public init() {}

    public func run() async throws {
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
