import ArgumentParser

/// The `khactl` command: its subcommands are the product's features.
public struct Khactl: AsyncParsableCommand {
    /// The version `khactl --version` prints.
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "khactl",
        abstract: "Make a bare-metal Kubernetes control plane highly available with Corosync and Pacemaker.",
        version: version,
        subcommands: [
            BootstrapCommand.self, PlanCommand.self, ApplyCommand.self, NodeCommand.self, MaintenanceCommand.self, ResourceCommand.self,
            UpgradeCommand.self, WitnessCommand.self, AlertCommand.self, Members.self, Watch.self, Status.self, SpecCommand.self, Export.self, Keygen.self, LabCommand.self]
    )

    public init() {}
}

/// How a command prints its result.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}

/// Options every command takes.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: text or json.")
    public var output: OutputFormat = .text

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Talk to the corosync in this network namespace (a /run/netns/NAME or /proc/PID/ns/net path).",
            valueName: "path"))
    public var netns: String?

    public init() {}

    /// The corosync endpoint these options name.
    public var endpoint: CorosyncEndpointOption { CorosyncEndpointOption(path: netns) }
}
