import ClusterExec
import ArgumentParser
import Foundation
import Pacemaker

/// `khactl spec`: read, check and convert resource graph specs. Not registered here: the `Khactl` command lists it.
package struct SpecCommand: ParsableCommand {
    /// The command's name, abstract and subcommands for ArgumentParser.
    package static let configuration = CommandConfiguration(
        commandName: "spec",
        abstract: "Check, convert and describe Pacemaker resource graph specs.",
        subcommands: [SpecValidate.self, SpecSchemaCommand.self, SpecFromCIB.self, Export.self]
    )

    /// Creates the command with default options (ArgumentParser fills them in).
    package init() {}
}

/// Output and exit status of a spec command, computed without printing so it can be tested.
package struct SpecCommandResult: Hashable, Sendable {
    /// What goes to standard output.
    package var stdout: String
    /// What goes to standard error.
    package var stderr: String
    /// The exit status (0 when everything is fine).
    package var status: Int32

    /// Prints the result and exits non-zero when the status says so.
    func emit() throws {
        if !stdout.isEmpty { FileHandle.standardOutput.write(Data(stdout.utf8)) }
        if !stderr.isEmpty { FileHandle.standardError.write(Data(stderr.utf8)) }
        if status != 0 { throw ExitCode(status) }
    }
}

/// Reads a spec file, turning a load error into a result that lists every located issue.
func loadSpec(_ path: String) -> Result<Spec, SpecLoadError> {
    do {
        // The cluster and profile sections are read too: the profile's objects join the graph.
        return .success(try DeploymentSpec.load(path: path).spec)
    } catch let error as SpecLoadError {
        return .failure(error)
    } catch {
        return .failure(SpecLoadError(code: "io", issues: [], underlying: "\(error)"))
    }
}

func loadFailure(_ error: SpecLoadError) -> SpecCommandResult {
    var text = error.issues.map { "error: \($0)" }.joined(separator: "\n")
    if error.issues.isEmpty, let underlying = error.underlying { text = "error: \(underlying)" }
    return SpecCommandResult(stdout: "", stderr: text + "\n", status: 1)
}

/// `khactl spec validate FILE`: every problem of a spec, each naming the object and where it is written.
package struct SpecValidate: ParsableCommand {
    /// The command's name, abstract and subcommands for ArgumentParser.
    package static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a spec: ids, references, order cycles, scores, durations, addresses, clone options."
    )

    /// The spec file (YAML or JSON).
    @Option(name: [.customShort("f"), .customLong("file")], help: "The spec file (YAML or JSON).")
    package var file: String

    /// Print the problems as a JSON array instead of lines.
    @Flag(name: .long, help: "Print the problems as JSON.")
    package var json = false

    /// Creates the command with default options (ArgumentParser fills them in).
    package init() {}

    /// The command's output for `file`.
    package func result() -> SpecCommandResult {
        switch loadSpec(file) {
        case .failure(let error):
            return loadFailure(error)
        case .success(let spec):
            let problems = Validator.validate(spec)
            // Warnings (unknown meta attribute names) are printed but do not fail the command.
            let errors = problems.filter { $0.severity == .error }
            if json {
                let objects = problems.map { p -> [String: String] in
                    var o = [
                        "code": p.code, "object": p.object, "message": p.message, "severity": p.severity.rawValue,
                    ]
                    if let l = p.location { o["location"] = l.description }
                    return o
                }
                let data =
                    (try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])) ?? Data("[]".utf8)
                return SpecCommandResult(
                    stdout: String(decoding: data, as: UTF8.self) + "\n", stderr: "", status: errors.isEmpty ? 0 : 1)
            }
            if problems.isEmpty { return SpecCommandResult(stdout: "\(file): valid\n", stderr: "", status: 0) }
            let lines = problems.map { "\($0.severity.rawValue): \($0)" }.joined(separator: "\n")
            if errors.isEmpty { return SpecCommandResult(stdout: "\(file): valid\n", stderr: lines + "\n", status: 0) }
            let summary = "\(errors.count) problem\(errors.count == 1 ? "" : "s") in \(file)"
            return SpecCommandResult(stdout: "", stderr: lines + "\n" + summary + "\n", status: 1)
        }
    }

    /// Runs the command: prints its output and exits non-zero on failure.
    package func run() throws { try result().emit() }
}

/// `khactl spec schema`: the JSON Schema of the spec format.
package struct SpecSchemaCommand: ParsableCommand {
    /// The command's name, abstract and subcommands for ArgumentParser.
    package static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of the spec format."
    )

    /// Creates the command with default options (ArgumentParser fills them in).
    package init() {}

    /// Runs the command: prints its output and exits non-zero on failure.
    package func run() throws {
        try SpecCommandResult(stdout: SpecSchema.json + "\n", stderr: "", status: 0).emit()
    }
}

/// `khactl spec from-cib [FILE]`: a spec from a CIB (`cibadmin -Q` output or a CIB file; `-` reads stdin).
package struct SpecFromCIB: AsyncParsableCommand {
    /// The command's name, abstract and subcommands for ArgumentParser.
    package static let configuration = CommandConfiguration(
        commandName: "from-cib",
        abstract: "Write the spec of a CIB (a file, or - for the output of cibadmin -Q on stdin).",
        discussion: "Nothing is left out: what the spec's keys cannot spell is carried verbatim as xml: items."
    )

    /// The CIB file, `-` for standard input, or nil for the live cluster's CIB (`cibadmin -Q`).
    @Option(name: .customLong("cib-file"), help: "A CIB file, or - for standard input (default: the live CIB, cibadmin -Q).")
    package var file: String?

    /// Creates the command with default options (ArgumentParser fills them in).
    package init() {}

    /// The command's output for CIB text.
    package static func result(cibData: Data, name: String) -> SpecCommandResult {
        do {
            let cib = try CIBParser.parse(data: cibData)
            let export = SpecFile.export(Spec(from: ClusterStateObjects.removed(from: cib.configuration)))
            let notes = export.omitted.map { "note: not expressible in a spec, left out: \($0)" }
            return SpecCommandResult(
                stdout: export.yaml, stderr: notes.isEmpty ? "" : notes.joined(separator: "\n") + "\n", status: 0)
        } catch {
            return SpecCommandResult(stdout: "", stderr: "error: \(name): \(error)\n", status: 1)
        }
    }

    /// Runs the command: prints its output and exits non-zero on failure.
    package func run() async throws {
        let data: Data
        switch file {
        case nil:
            data = try await Self.liveCIB()
        case "-":
            data = FileHandle.standardInput.readDataToEndOfFile()
        case let path?:
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path)")
            }
            data = contents
        }
        try Self.result(cibData: data, name: file.map { $0 == "-" ? "<stdin>" : $0 } ?? "the live CIB").emit()
    }

    /// `cibadmin -Q`: the live cluster's CIB.
    static func liveCIB() async throws -> Data {
        let output: CommandOutput
        do {
            output = try await SubprocessRunner().run(Command("cibadmin", ["-Q"], timeout: .seconds(60)))
        } catch {
            throw CLIError("cannot run cibadmin -Q: \(error)")
        }
        guard output.succeeded else {
            throw CLIError(
                "cibadmin -Q exited \(output.status): " + output.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                    + " (is pacemaker running here? --cib-file FILE reads a file instead)")
        }
        return Data(output.standardOutput.utf8)
    }
}

/// What `khactl export` writes.
package enum ExportFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// A complete CIB document (configuration + empty status) that `crm_verify -x` accepts.
    case xml
    /// The same as `xml`.
    case cib
    /// The `<configuration>` section only.
    case configuration
    /// pcs 0.11 commands, one per line, shell-quoted for display.
    case pcs
    /// `crm configure` lines.
    case crmsh
}

/// `khactl export --format cib|configuration|pcs|crmsh FILE`: render a spec.
package struct Export: ParsableCommand {
    /// The command's name, abstract and subcommands for ArgumentParser.
    package static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Render a spec as CIB XML, a pcs script or a crmsh script.",
        discussion: "The spec is validated first; nothing is rendered when it has problems (--force renders anyway)."
    )

    /// The spec file.
    @Option(name: [.customShort("f"), .customLong("file")], help: "The spec file (YAML or JSON).")
    package var file: String

    /// The output format.
    @Option(name: .long, help: "xml (a whole CIB), configuration, pcs or crmsh.")
    package var format: ExportFormat = .xml

    /// For `pcs`: address a CIB file (`pcs -f FILE`) instead of the live cluster.
    @Option(name: .customLong("cib-file"), help: "With --format pcs: run the commands on this CIB file (pcs -f).")
    package var cibFile: String?

    /// Render even when validation finds problems.
    @Flag(name: .long, help: "Render even if the spec has problems.")
    package var force = false

    /// Creates the command with default options (ArgumentParser fills them in).
    package init() {}

    /// The command's output.
    package func result() -> SpecCommandResult {
        let spec: Spec
        switch loadSpec(file) {
        case .failure(let error): return loadFailure(error)
        case .success(let loaded): spec = loaded
        }
        let problems = Validator.validate(spec)
        let warnings = problems.filter { $0.severity == .warning }.map { "warning: \($0)" }
        let errors = problems.filter { $0.severity == .error }
        if !errors.isEmpty && !force {
            let lines = (errors.map { "error: \($0)" } + warnings).joined(separator: "\n")
            return SpecCommandResult(
                stdout: "", stderr: lines + "\nnothing rendered: fix the spec, or pass --force\n", status: 1)
        }
        var notes: [String] = []
        let text: String
        switch format {
        case .xml, .cib:
            text = CIBRenderer.render(spec.configuration)
        case .configuration:
            text = CIBRenderer.renderConfiguration(spec.configuration) + "\n"
        case .pcs:
            let output = PCSScript.renderWithNotes(spec.configuration, cibFile: cibFile)
            text = PCSScript.shellText(output.commands)
            notes = output.omitted
        case .crmsh:
            let output = CrmshScript.renderWithNotes(spec.configuration)
            text = output.lines.joined(separator: "\n") + "\n"
            notes = output.omitted
        }
        let stderr = (warnings + notes.map { "note: not expressible in \(format.rawValue), left out: \($0)" })
            .joined(separator: "\n")
        return SpecCommandResult(stdout: text, stderr: stderr.isEmpty ? "" : stderr + "\n", status: 0)
    }

    /// Runs the command: prints its output and exits non-zero on failure.
    package func run() throws { try result().emit() }
}
