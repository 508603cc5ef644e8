import ArgumentParser
import ClusterExec
import Foundation
import FoundationXML
import Pacemaker

/// Options shared by `khactl plan` and `khactl apply`.
package struct PlanArguments: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("file")], help: "The spec file (YAML or JSON).")
    package var file: String

    @Option(name: .long, help: ArgumentHelp("Work on this CIB file instead of the live cluster (CIB_file).", valueName: "file"))
    package var cibFile: String?

    @Flag(name: .long, help: "Remove objects khactl made that are no longer in the spec.")
    package var prune = false

    @Flag(name: .long, help: "Take over objects of the spec that exist but were not made by khactl.")
    package var adopt = false

    @Flag(name: .long, help: "Do not check that the spec's ocf, lsb and stonith agents are installed here (only with --cib-file: a CIB made for other hosts).")
    package var noAgentCheck = false

    package init() {}

    package func validate() throws {
        if noAgentCheck && cibFile == nil {
            throw ValidationError("--no-agent-check goes with --cib-file (a live cluster runs its agents here)")
        }
    }

    /// The spec, validated; every problem is printed and the command fails before anything is read or written.
    func validatedConfiguration() throws -> Configuration {
        let spec: Spec
        switch loadSpec(file) {
        case .failure(let error):
            try loadFailure(error).emit()
            throw ExitCode(1)
        case .success(let loaded):
            spec = loaded
        }
        let problems = Validator.validate(spec)
        let errors = problems.filter { $0.severity == .error }
        for problem in problems { printError("\(problem.severity.rawValue): \(problem)") }
        if !errors.isEmpty {
            printError("\(errors.count) problem\(errors.count == 1 ? "" : "s") in \(file); nothing was read or written")
            throw ExitCode(1)
        }
        let missing = noAgentCheck ? [] : AgentCheck.missing(in: spec.configuration)
        if !missing.isEmpty {
            for line in missing { printError("error: \(line)") }
            printError("\(missing.count) agent\(missing.count == 1 ? "" : "s") missing; nothing was read or written")
            throw ExitCode(1)
        }
        if !spec.configuration.nodes.isEmpty || !spec.configuration.opaqueNodes.isEmpty {
            printError("note: the spec's nodes section is not applied (nodes join through corosync)")
        }
        var configuration = spec.configuration
        configuration.nodes = []
        configuration.opaqueNodes = []
        return configuration
    }

    func engineOptions() -> ApplyOptions {
        var options = ApplyOptions()
        options.cibFile = cibFile
        options.plan = PlanOptions(prune: prune, adopt: adopt)
        options.progress = { printError($0) }
        return options
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

extension Plan {
    /// The plan as one JSON object.
    var json: JSONValue {
        [
            "baseEpoch": .integer(Int64(baseVersion.epoch)),
            "changes": .bool(!steps.isEmpty),
            "steps": .array(steps.map { step in
                [
                    "action": .string(step.action.rawValue), "kind": .string(step.key.kind.rawValue),
                    "object": .string(step.label),
                    "changes": .array(step.changes.map { change in
                        [
                            "path": .string(change.path),
                            "old": change.old.map { .string(change.secret ? "(secret)" : $0) } ?? .null,
                            "new": change.new.map { .string(change.secret ? "(secret)" : $0) } ?? .null,
                        ]
                    }),
                ]
            }),
            "notes": .array(notes.map(JSONValue.string)),
        ]
    }
}

/// `khactl plan`: what an apply would change. Exit 0: nothing; 2: changes pending; 1: error.
package struct PlanCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what `khactl apply` would change (exit 0: nothing, 2: changes pending, 1: error).")

    @OptionGroup package var arguments: PlanArguments
    @OptionGroup package var global: GlobalOptions

    @Flag(name: .long, help: "Run crm_simulate on the would-be CIB and show the actions and placements.")
    package var simulate = false

    package init() {}

    package func run() async throws {
        let configuration = try arguments.validatedConfiguration()
        let engine = ApplyEngine(options: arguments.engineOptions())
        let plan: Plan
        do {
            plan = try await engine.plan(configuration)
        } catch {
            throw CLIError("plan: \(error)")
        }
        var simulation: [SimulatedAction] = []
        if simulate {
            let cib: String
            if let desired = plan.desiredCIB { cib = desired } else { cib = try await engine.readCIB() }
            simulation = try await Simulation.run(cib: cib)
        }
        switch global.output {
        case .json:
            var object = plan.json
            if simulate, case .object(var fields) = object {
                fields["simulation"] = .array(simulation.map { .string($0.description) })
                object = .object(fields)
            }
            print(object.line)
        case .text:
            print(plan.text)
            if simulate {
                print(simulation.isEmpty ? "Simulation: no actions." : "Simulation (crm_simulate):")
                for action in simulation { print("  \(action)") }
            }
        }
        if !plan.isEmpty { throw ExitCode(2) }
    }
}

/// `khactl apply`: makes the cluster match the spec, in one atomic write.
package struct ApplyCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the cluster's configuration match the spec: one verified, atomic, versioned write.")

    @OptionGroup package var arguments: PlanArguments
    @OptionGroup package var global: GlobalOptions

    @Option(name: .long, help: "How to write: cib (crm_diff + cibadmin --patch) or pcs (pcs -f + cib-push).")
    package var via: ApplyRouteArgument = .cib

    @Flag(name: .long, help: "Print the plan and write nothing.")
    package var dryRun = false

    @Option(
        name: .long,
        help: ArgumentHelp("Wait until the cluster has settled (at most this many seconds) and report failed actions.", valueName: "seconds"))
    package var wait: Int?

    package init() {}

    package func validate() throws {
        if let wait, wait <= 0 { throw ValidationError("--wait takes a positive number of seconds") }
        if wait != nil && arguments.cibFile != nil { throw ValidationError("--wait needs a live cluster, not --cib-file") }
    }

    package func run() async throws {
        let configuration = try arguments.validatedConfiguration()
        var options = arguments.engineOptions()
        options.route = via.route
        options.dryRun = dryRun
        let engine = ApplyEngine(options: options)
        let result: ApplyResult
        do {
            result = try await engine.apply(configuration)
        } catch {
            throw CLIError("apply: \(error); the CIB was not changed by this run")
        }
        var settled: ClusterStatus?
        if let wait, result.written {
            settled = try await Settle.wait(seconds: wait)
        }
        switch global.output {
        case .json:
            var fields: [String: JSONValue] = [
                "plan": result.plan.json, "written": .bool(result.written), "dryRun": .bool(dryRun),
                "conflicts": .integer(Int64(result.conflicts)),
            ]
            if let after = result.versionAfter { fields["epoch"] = .integer(Int64(after.epoch)) }
            if let settled { fields["status"] = settled.json }
            print(JSONValue.object(fields).line)
        case .text:
            if dryRun {
                print(result.plan.text)
                if !result.plan.isEmpty { print("Dry run: nothing was written.") }
            } else if !result.written {
                print(result.plan.text)
            } else {
                print(result.plan.text)
                let epoch = result.versionAfter.map { " (CIB epoch now \($0.epoch))" } ?? ""
                print("Applied \(result.plan.steps.count) change\(result.plan.steps.count == 1 ? "" : "s") via \(via.rawValue)\(epoch).")
            }
            if let settled {
                if settled.failedActions.isEmpty {
                    print("Cluster settled; no failed actions.")
                } else {
                    print("Cluster settled with failed actions:")
                    for action in settled.failedActions {
                        print("  \(action.resource) \(action.operation) on \(action.node): \(action.reason)")
                    }
                }
            }
        }
        if let settled, !settled.failedActions.isEmpty { throw ExitCode(1) }
    }
}

/// `--via` values.
package enum ApplyRouteArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
    case cib
    case pcs

    var route: ApplyRoute { self == .cib ? .cib : .pcs }
}

/// One action `crm_simulate` says the cluster would take.
struct SimulatedAction: Hashable, Sendable, CustomStringConvertible {
    var action: String
    var resource: String
    var node: String?
    var source: String?
    var destination: String?
    var reason: String?

    var description: String {
        var text = "\(action) \(resource)"
        if let source, let destination {
            text += " from \(source) to \(destination)"
        } else if let node {
            text += " on \(node)"
        }
        if let reason { text += " (\(reason))" }
        return text
    }
}

/// `crm_simulate` on a would-be CIB, read from its XML output.
enum Simulation {
    static func run(cib: String) async throws -> [SimulatedAction] {
        // A folder of its own (mkdtemp, 0700) in khactl's private folder, never a guessable name in /tmp.
        let base = try PrivateFolder.runtime("simulate")
        var template = Array((base.path + "/khactl-simulate-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CLIError("simulate: cannot make a private folder in \(base.path): \(String(cString: strerror(errno)))")
        }
        let folder = URL(fileURLWithPath: String(cString: made))
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("cib.xml").path
        guard (try? SecureFile.write(path, Data(cib.utf8), mode: 0o600)) != nil else {
            throw CLIError("simulate: cannot write \(path)")
        }
        let command = Command("crm_simulate", ["--xml-file", path, "--simulate", "--output-as=xml"], timeout: .seconds(60))
        let output: CommandOutput
        do {
            output = try await SubprocessRunner().check(command)
        } catch {
            throw CLIError("simulate: \(error)")
        }
        return try parse(output.standardOutput)
    }

    static func parse(_ xml: String) throws -> [SimulatedAction] {
        let data = Data(xml.utf8)
        let document: XMLDocument
        do {
            try WellFormedXML.check(data)
            document = try XMLDocument(data: data, options: [])
        } catch {
            throw CLIError("cannot read crm_simulate's XML: \(error)")
        }
        guard let actions = document.rootElement()?.elements(forName: "actions").first else { return [] }
        return actions.elements(forName: "rsc_action").map { element in
            func value(_ name: String) -> String? { element.attribute(forName: name)?.stringValue }
            return SimulatedAction(
                action: value("action") ?? "?", resource: value("resource") ?? "?", node: value("node"),
                source: value("source"), destination: value("dest"), reason: value("reason"))
        }
    }
}

/// Waiting for the cluster to settle after an apply.
enum Settle {
    static func wait(seconds: Int) async throws -> ClusterStatus {
        let command = Command(
            "crm_resource", ["--wait", "--timeout=\(seconds)s"], timeout: .seconds(seconds + 10))
        let output: CommandOutput
        do {
            output = try await SubprocessRunner().run(command)
        } catch {
            throw CLIError("wait: \(error)")
        }
        if !output.succeeded {
            throw CLIError(
                "wait: the cluster did not settle within \(seconds) s (`\(command)` exited \(output.status): "
                    + output.standardError.trimmingCharacters(in: .whitespacesAndNewlines) + ")")
        }
        do {
            let status = try await SubprocessRunner().check(
                Command("crm_mon", ["--output-as=xml", "-1", "--inactive"], timeout: .seconds(30)))
            return try ClusterStatus(xml: status.standardOutput)
        } catch {
            throw CLIError("wait: cannot read the cluster's status: \(error)")
        }
    }
}
