import ArgumentParser
import ClusterExec
import Foundation
import Pacemaker

/// `khactl alert`: khactl as Pacemaker's alert agent, feeding `khactl watch --alerts`.
package struct AlertCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "alert",
        abstract: "Register khactl as Pacemaker's alert agent, so `khactl watch --alerts` gets resource, node, fencing and attribute events.",
        subcommands: [AlertInstall.self, AlertRemove.self])

    package init() {}
}

/// `khactl alert install`.
package struct AlertInstall: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Add (or update) the alert `khactl` in the CIB, with select filters, through the apply engine.")

    @Option(help: "Event kinds to send, comma separated: nodes, fencing, resources, attributes (default: all but attributes).")
    package var select = "nodes,fencing,resources"

    @Option(help: ArgumentHelp("The agent Pacemaker runs (default: this khactl binary).", valueName: "path"))
    package var agent: String?

    @Option(help: ArgumentHelp("The socket the watchers listen on.", valueName: "path"))
    package var socket = PacemakerAlert.defaultSocket

    @Option(help: "How long Pacemaker lets the agent run.")
    package var timeout = "10s"

    @Option(name: .long, help: ArgumentHelp("Work on this CIB file instead of the live cluster.", valueName: "file"))
    package var cibFile: String?

    package init() {}

    package func validate() throws {
        let kinds = select.split(separator: ",").map(String.init)
        guard !kinds.isEmpty, kinds.allSatisfy(Alert.selectKinds.contains) else {
            throw ValidationError("--select takes \(Alert.selectKinds.joined(separator: ", ")), comma separated")
        }
        if let agent, !(agent.hasPrefix("/") && FileManager.default.isExecutableFile(atPath: agent)) {
            throw ValidationError("--agent must be an executable file given by its absolute path")
        }
        guard socket.hasPrefix("/") else { throw ValidationError("--socket must be an absolute path") }
    }

    package func run() async throws {
        let path = try agent ?? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var attributes: [AttributeSet] = []
        if socket != PacemakerAlert.defaultSocket { attributes = [AttributeSet(["KHACTL_ALERT_SOCKET": socket])] }
        let alert = Alert(
            id: "khactl", path: path, description: "khactl watch --alerts: events once per cluster",
            select: select.split(separator: ",").map(String.init), metaAttributes: [AttributeSet(["timeout": timeout])],
            instanceAttributes: attributes)
        var configuration = Configuration(alerts: [alert])
        configuration = configuration.assigningIDs()
        let problems = Validator.validate(configuration).filter { $0.severity == .error }
        if !problems.isEmpty { throw CLIError(problems.map(\.description).joined(separator: "\n")) }
        var options = ApplyOptions()
        options.cibFile = cibFile
        options.progress = { printError($0) }
        let result: ApplyResult
        do {
            result = try await ApplyEngine(options: options).apply(configuration)
        } catch {
            throw CLIError("alert install: \(error)")
        }
        print(result.written ? "alert khactl installed: \(path), select \(select)" : "alert khactl already installed as given")
    }
}

/// `khactl alert remove`.
package struct AlertRemove: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove the alert `khactl` from the CIB.")

    @Option(name: .long, help: ArgumentHelp("Work on this CIB file instead of the live cluster.", valueName: "file"))
    package var cibFile: String?

    package init() {}

    package func run() async throws {
        let command = Command(
            "cibadmin", ["--delete", "--scope", "alerts", "--xml-text", #"<alert id="khactl"/>"#],
            environment: cibFile.map { ["CIB_file": $0] } ?? [:])
        do {
            try await SubprocessRunner().check(command)
        } catch {
            throw CLIError("alert remove: \(error)")
        }
        print("alert khactl removed")
    }
}
