import ArgumentParser
import Foundation
import KhactlCore
import KhactlLab

/// The `khactl` command: the product's commands (KhactlCore) and the lab (KhactlLab), composed here so the
/// product's library never depends on the lab.
struct Khactl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "khactl", abstract: Product.abstract, version: Product.version,
        subcommands: Product.commands + [LabCommand.self])
}

/// The executable's entry point.
@main
struct KhactlMain {
    static func main() async {
        // Run by Pacemaker as an alert agent (`khactl alert install`): no arguments, CRM_alert_* set.
        // Run by Pacemaker as the fence agent `fence_khactl` (`khactl fence-agent install` links it).
        if URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent == RedfishFenceAgent.name {
            exit(await RedfishFenceAgent.main(arguments: Array(CommandLine.arguments.dropFirst())) {
                String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            })
        }
        let environment = ProcessInfo.processInfo.environment
        if CommandLine.arguments.count == 1, environment[PacemakerAlert.kindVariable] != nil {
            exit(PacemakerAlert.forward(environment: environment))
        }
        await Khactl.main()
    }
}
