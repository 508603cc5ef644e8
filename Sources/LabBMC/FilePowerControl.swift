import ClusterExec
import Foundation

/// A ``PowerControl`` for the standalone `bmc` command: the power state lives in a file (`On` or `Off`),
/// and turning the node off or on runs a command given as an argument array, such as
/// `khactl lab kill node2 --mode crash` and `khactl lab revive node2`.
///
/// A missing state file means the node is on (a lab node starts running). The state is written only after
/// the command succeeds; a failing command leaves it unchanged and throws. Asking for the state the node is
/// already in runs nothing. Not safe for two processes sharing one state file; ``RedfishBMC`` already
/// serialises the calls of one BMC.
package struct FilePowerControl: PowerControl {
    /// The file holding `On` or `Off`.
    package let stateFile: String
    /// Run to cut power; empty means only the state file changes.
    package let powerOffCommand: [String]
    /// Run to restore power; empty means only the state file changes.
    package let powerOnCommand: [String]
    /// How long either command may run before it is killed and the action fails.
    package let commandTimeout: TimeInterval

    /// A power control over `stateFile` and the two commands (argument arrays, never shell strings).
    package init(
        stateFile: String, powerOffCommand: [String] = [], powerOnCommand: [String] = [],
        commandTimeout: TimeInterval = 120
    ) {
        self.stateFile = stateFile
        self.powerOffCommand = powerOffCommand
        self.powerOnCommand = powerOnCommand
        self.commandTimeout = commandTimeout
    }

    /// The state in the file; `.on` when there is no file yet.
    package func powerState() async throws -> PowerState {
        guard FileManager.default.fileExists(atPath: stateFile) else { return .on }
        let text: String
        do {
            text = try String(contentsOfFile: stateFile, encoding: .utf8)
        } catch {
            throw LabBMCError(.stateFile, "cannot read the power state file \(stateFile)", underlying: error)
        }
        let word = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let state = PowerState(rawValue: word) else {
            throw LabBMCError(
                .stateFile,
                "the power state file \(stateFile) holds \"\(word.prefix(40))\", not On or Off: fix or delete it")
        }
        return state
    }

    /// Runs the power-off command unless the node is already off, then records `Off`.
    package func powerOff() async throws {
        guard try await powerState() == .on else { return }
        try await run(powerOffCommand)
        try record(.off)
    }

    /// Runs the power-on command unless the node is already on, then records `On`.
    package func powerOn() async throws {
        guard try await powerState() == .off else { return }
        try await run(powerOnCommand)
        try record(.on)
    }

    /// Powers off (if on), then on.
    package func reset() async throws {
        try await powerOff()
        try await powerOn()
    }

    private func run(_ argv: [String]) async throws {
        guard let program = argv.first else { return }
        let command = Command(
            program, Array(argv.dropFirst()), timeout: .milliseconds(Int(commandTimeout * 1000)), outputToFile: true)
        do {
            try await SubprocessRunner().check(command)
        } catch {
            throw LabBMCError(.command, error.description)
        }
    }

    private func record(_ state: PowerState) throws {
        do {
            // Atomic: a status read during the write sees the old state or the new one, never an empty file.
            try SecureFile.write(stateFile, Data("\(state.rawValue)\n".utf8), mode: 0o644)
        } catch {
            throw LabBMCError(.stateFile, "cannot write the power state file \(stateFile)", underlying: error)
        }
    }
}
