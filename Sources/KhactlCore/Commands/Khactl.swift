import ArgumentParser

/// What the `khactl` command is made of: the executable adds the lab's command to these.
package enum Product {
    /// The version `khactl --version` prints.
    package static let version = "0.1.0"

    /// The one-line description of `khactl`.
    package static let abstract = "Make a bare-metal Kubernetes control plane highly available with Corosync and Pacemaker."

    /// The product's commands, in the order `khactl --help` lists them.
    package static let commands: [any ParsableCommand.Type] = [
        BootstrapCommand.self, PlanCommand.self, ApplyCommand.self, NodeCommand.self, MaintenanceCommand.self, ResourceCommand.self,
        UpgradeCommand.self, WitnessCommand.self, FenceAgentCommand.self, AlertCommand.self, Members.self, Watch.self, Status.self, SpecCommand.self,
        Export.self, Keygen.self,
    ]
}

/// How a command prints its result.
package enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}

/// Options every command takes.
package struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: text or json.")
    package var output: OutputFormat = .text

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Talk to the corosync in this network namespace (a /run/netns/NAME or /proc/PID/ns/net path).",
            valueName: "path"))
    package var netns: String?

    package init() {}

    /// The corosync endpoint these options name.
    package var endpoint: CorosyncEndpointOption { CorosyncEndpointOption(path: netns) }
}
