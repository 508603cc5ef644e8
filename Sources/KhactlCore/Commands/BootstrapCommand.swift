import ArgumentParser
import ClusterExec
import Foundation
import Pacemaker

/// `khactl bootstrap`: run on each controller; makes the cluster and applies the profile.
package struct BootstrapCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Make this controller a member of the spec's cluster: corosync.conf, authkey, services, quorum, the profile.",
        discussion: """
            Run it on every controller (at the same time is fine). Each step checks before it acts: a re-run \
            changes nothing. The resource graph is applied through the apply engine, safely from every node at once.
            """)


    @OptionGroup package var setup: NodeSetupOptions

    @Flag(help: "Show what would be done; write and start nothing.")
    package var dryRun = false

    @Flag(help: "Write a corosync.conf that differs from the running one; run it on every node: corosync reloads (one corosync-cfgtool -R) once all of them hold the same file.")
    package var reload = false

    @Flag(help: "Take over objects of the profile that exist but were not made by khactl.")
    package var adopt = false


    /// How the cluster is made.
    package enum Route: String, ExpressibleByArgument, CaseIterable, Sendable {
        case direct
        case pcsd
    }

    @Option(
        help: """
            direct: khactl writes corosync.conf and the authkey and starts the services. pcsd: the spec's first node \
            runs pcs host auth and pcs cluster setup (with --enable --start where systemd runs), which send the \
            authkeys and corosync.conf to every node through pcsd; needs pcsd running on every node.
            """)
    package var via: Route = .direct

    @Option(help: ArgumentHelp("With --via pcsd: a file holding the hacluster user's password (never on the command line).", valueName: "file"))
    package var pcsdPasswordFile: String?


    package func validate() throws {
        if via == .pcsd && setup.qdeviceCertificates != nil { throw ValidationError("--qdevice-certificates goes with the direct route") }
        if via == .pcsd && pcsdPasswordFile == nil { throw ValidationError("--via pcsd needs --pcsd-password-file FILE") }
        if via == .direct && pcsdPasswordFile != nil { throw ValidationError("--pcsd-password-file goes with --via pcsd") }
        if via == .pcsd && setup.authkey != nil { throw ValidationError("--via pcsd: pcs makes the authkey; drop --authkey") }
    }

    package init() {}

    package func run() async throws {
        guard var (deployment, options) = try setup.load() else { return }
        options.dryRun = dryRun
        options.reload = reload
        options.adopt = adopt
        options.pcsdPasswordFile = via == .pcsd ? pcsdPasswordFile : nil
        let bootstrap: Bootstrap
        do {
            bootstrap = try Bootstrap(deployment: deployment, options: options)
        } catch {
            throw CLIError("bootstrap: \(error)\nnothing was written")
        }
        let report: Bootstrap.Report
        do {
            report = try await bootstrap.run()
        } catch {
            throw CLIError("bootstrap: \(error)")
        }
        if report.changed.isEmpty {
            print("bootstrap: nothing changed: this node already matches the spec")
        } else if !dryRun {
            print("bootstrap: done, \(report.changed.count) change\(report.changed.count == 1 ? "" : "s")")
        }
        if let cluster = deployment.cluster, cluster.corosyncConfig.twoNode {
            print("\nTwo nodes: " + KubernetesControlPlaneProfile.twoNodeTruth)
        }
        if let profile = deployment.profile {
            print("\nOnce the VIP answers, on the first controller:\n  \(profile.kubeadmInit)")
        }
    }
}

/// What bootstrap and `node add|remove|replace` take to set a node up from the spec.
package struct NodeSetupOptions: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("file")], help: "The spec file with cluster: and profile: sections.")
    package var file: String

    @Option(help: ArgumentHelp("The authkey to install (make it once with `khactl keygen FILE`).", valueName: "file"))
    package var authkey: String?

    @Option(help: "This node's name in the spec (default: the host name).")
    package var node: String?

    @Option(help: "Seconds to wait for the other nodes, quorum and pacemaker.")
    package var timeout = 180

    @Option(help: ArgumentHelp(
        "With a quorum device in the spec: the folder `khactl witness init` wrote on the witness (its CA certificate and the cluster's certificate).",
        valueName: "dir"))
    package var qdeviceCertificates: String?

    package init() {}

    package func validate() throws {
        guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1 second") }
    }

    /// The spec and the options these set; nil when the spec did not load (its problems are printed).
    func load() throws -> (DeploymentSpec, BootstrapOptions)? {
        let deployment: DeploymentSpec
        do {
            deployment = try DeploymentSpec.load(path: file)
        } catch let error as SpecLoadError {
            try loadFailure(error).emit()
            return nil
        }
        var options = BootstrapOptions()
        options.node = node
        options.authkey = authkey
        options.qdeviceCertificates = qdeviceCertificates
        options.timeout = .seconds(timeout)
        return (deployment, options)
    }
}
