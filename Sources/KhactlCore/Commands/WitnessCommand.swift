import ArgumentParser
import Foundation

/// `khactl witness`: the host that runs corosync-qnetd for a cluster's quorum device.
package struct WitnessCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "witness",
        abstract: "Set up the witness host of a quorum device (corosync-qnetd).",
        subcommands: [WitnessInit.self])

    package init() {}
}

/// `khactl witness init --cluster NAME --out DIR`.
package struct WitnessInit: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "On the witness: make qnetd's CA (once) and the cluster's certificate, write both to DIR, start corosync-qnetd.",
        discussion: """
            Copy DIR to every node and pass it to bootstrap (--qdevice-certificates DIR); the spec names the witness \
            in cluster.quorum-device. DIR holds the cluster's private key (0600): keep it as the authkey is kept.
            """)

    @Option(help: "The cluster's name (cluster.name in the spec).") package var cluster: String
    @Option(help: ArgumentHelp("Where to write the certificates.", valueName: "dir")) package var out: String

    package init() {}

    package func validate() throws {
        if cluster.wholeMatch(of: /[A-Za-z0-9_][A-Za-z0-9_-]{0,31}/) == nil {
            throw ValidationError("'\(cluster)' is not a cluster name (1-32 letters, digits, '-' or '_', not starting with '-')")
        }
    }

    package func run() async throws {
        let steps: [String]
        do {
            steps = try await QuorumDeviceCertificates.initWitness(cluster: cluster, output: out) { print($0) }
        } catch let error as BootstrapError {
            throw CLIError("witness init: \(error)")
        }
        print("witness init: done, \(steps.count) step\(steps.count == 1 ? "" : "s")")
    }
}
