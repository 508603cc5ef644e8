import Foundation
import Pacemaker

/// How an apply writes the CIB.
public enum ApplyRoute: String, Hashable, Sendable, CaseIterable {
    /// `crm_verify`, then one versioned patch (`crm_diff` + `cibadmin --patch`): atomic, and refused by the
    /// CIB manager when the CIB changed since it was read; khactl then re-reads, re-plans and tries again.
    case cib
    /// pcs's own way: `pcs -f COPY` commands for what is added, then
    /// `pcs cluster cib-push COPY --config diff-against=ORIGINAL`.
    case pcs
}

/// A failed apply: the step, the command, its exit status and the tool's own message.
public struct ApplyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The plan step or phase (`read the CIB`, `verify`, `write the patch`).
    public var step: String
    /// The command that failed, when one did.
    public var command: Command?
    /// Its exit status.
    public var status: Int32?
    /// The tool's message, or khactl's.
    public var message: String
    /// Whether the CIB changed under the apply every time it tried.
    public var isConflict: Bool

    /// An error of `step`, with the command that failed, its status and message, if any.
    public init(step: String, command: Command? = nil, status: Int32? = nil, message: String, isConflict: Bool = false) {
        self.step = step
        self.command = command
        self.status = status
        self.message = message
        self.isConflict = isConflict
    }

    public var description: String {
        var text = "\(step) failed"
        if let command { text += ": `\(command)`" }
        if let status { text += " exited \(status)" }
        let trimmed = message.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { text += ": \(trimmed)" }
        return text
    }
}

/// What an apply did.
public struct ApplyResult: Sendable {
    /// The plan that was carried out (or, for a dry run, would be).
    public var plan: Plan
    /// Whether the CIB was written.
    public var written: Bool
    /// How many times the CIB changed under the apply before it got through.
    public var conflicts: Int
    /// The CIB's version after the apply (the live one read back), when it was written.
    public var versionAfter: CIBVersion?
}

/// Options of one apply.
public struct ApplyOptions: Sendable {
    /// Which way the CIB is written.
    public var route: ApplyRoute = .cib
    /// Plan only.
    public var dryRun = false
    /// Prune and adopt.
    public var plan = PlanOptions()
    /// A CIB file to work on instead of the live cluster (passed to the tools as `CIB_file`).
    public var cibFile: String?
    /// How many times to re-read and re-plan when the CIB changes under the apply.
    public var attempts = 8
    /// Called with each message worth showing while applying (conflicts and retries).
    public var progress: @Sendable (String) -> Void = { _ in }

    /// The defaults: the live CIB through `--via cib`, eight attempts.
    public init() {}
}

/// Plans and applies a spec's configuration to a CIB.
public struct ApplyEngine: Sendable {
    let runner: any CommandRunner
    let environment: [String: String]
    let options: ApplyOptions

    /// Creates an engine that runs the Pacemaker tools with `runner`.
    public init(options: ApplyOptions, runner: any CommandRunner = SubprocessRunner()) {
        self.runner = runner
        self.options = options
        self.environment = options.cibFile.map { ["CIB_file": $0] } ?? [:]
    }

    /// The live CIB's text (`cibadmin --query`, or the file).
    public func readCIB() async throws(ApplyError) -> String {
        try await checked("read the CIB", Command("cibadmin", ["--query"], environment: environment, timeout: .seconds(60)))
            .standardOutput
    }

    /// The plan against the CIB as it is now.
    public func plan(_ desired: Configuration) async throws -> Plan {
        try Planner.plan(liveCIB: try await readCIB(), desired: desired, options: options.plan)
    }

    /// Plans and, unless it is a dry run, writes the CIB by the chosen route.
    public func apply(_ desired: Configuration) async throws -> ApplyResult {
        if !options.dryRun { Workspace.removeAbandoned() }
        var conflicts = 0
        while true {
            let live = try await readCIB()
            let plan = try Planner.plan(liveCIB: live, desired: desired, options: options.plan)
            guard let desiredCIB = plan.desiredCIB, !options.dryRun else {
                return ApplyResult(plan: plan, written: false, conflicts: conflicts, versionAfter: nil)
            }
            let workspace = try Workspace()
            defer { workspace.remove() }
            do {
                switch options.route {
                case .cib: try await writeByPatch(original: live, desired: desiredCIB, in: workspace)
                case .pcs: try await writeByPCS(original: live, plan: plan, desired: desired, in: workspace)
                }
                let after = try? CIBVersion(xml: try await readCIB())
                return ApplyResult(plan: plan, written: true, conflicts: conflicts, versionAfter: after)
            } catch let error as ApplyError where error.isConflict {
                conflicts += 1
                guard conflicts < options.attempts else {
                    throw ApplyError(
                        step: error.step, command: error.command, status: error.status,
                        message: "the CIB changed under the apply \(conflicts) times in a row, so nothing was written; "
                            + "last: \(error.message.trimmingCharacters(in: .whitespacesAndNewlines))",
                        isConflict: true)
                }
                options.progress("the CIB changed since it was read (epoch \(plan.baseVersion)); reading it again")
                try? await Task.sleep(for: .milliseconds(Int.random(in: 10...40) * conflicts))
            }
        }
    }

    // MARK: - Routes

    /// `crm_verify`, `crm_diff`, `cibadmin --patch`. The patch names the version it was made against, so the
    /// CIB manager applies it whole or refuses it when anyone wrote in between.
    private func writeByPatch(original: String, desired: String, in workspace: Workspace) async throws {
        let originalPath = try workspace.write("original.xml", original)
        let desiredPath = try workspace.write("desired.xml", desired)
        try await verify(desired, in: workspace)
        let diff = Command("crm_diff", ["--original", originalPath, "--new", desiredPath], timeout: .seconds(60))
        let patch = try await run("make the patch", diff)
        // crm_diff exits 1 when the documents differ, 0 when they do not.
        guard patch.status == 1 || patch.status == 0, !patch.signaled else {
            throw ApplyError(step: "make the patch", command: diff, status: patch.status, message: patch.standardError)
        }
        let patchPath = try workspace.write("patch.xml", patch.standardOutput)
        let push = Command("cibadmin", ["--patch", "--xml-file", patchPath], environment: environment, timeout: .seconds(120))
        let result = try await run("write the patch", push)
        guard result.succeeded else {
            throw ApplyError(
                step: "write the patch", command: push, status: result.status,
                message: result.standardError + result.standardOutput, isConflict: Self.isConflict(result))
        }
    }

    /// pcs commands on a copy for what is added, khactl's edits for what changes, then pcs's diff push.
    private func writeByPCS(original: String, plan: Plan, desired: Configuration, in workspace: Workspace) async throws {
        let originalPath = try workspace.write("original.xml", original)
        let copyPath = try workspace.write("pcs.xml", original)
        let added = Set(plan.steps.filter { $0.action == .add }.map(\.key))
        let changedSets = Set(plan.steps.filter { $0.action != .remove }.map(\.key).filter { $0.name.contains("/") })
        // Secrets never go on pcs's command line (every local user can read /proc/*/cmdline): pcs creates the
        // objects with a placeholder, and the real values go in with khactl's edits below, through the file.
        let subset = Self.maskingSecrets(Self.subset(of: desired, keys: added.union(changedSets)))
        // --force: pcs refuses agents it cannot find metadata for (systemd units installed later); khactl's
        // validator has checked the spec and crm_verify checks the result.
        for arguments in PCSScript.render(subset, cibFile: copyPath, force: true) {
            guard let executable = arguments.first else { continue }
            let command = Command(executable, Array(arguments.dropFirst()), timeout: .seconds(120))
            let output = try await run("pcs", command)
            guard output.succeeded else {
                throw ApplyError(step: "pcs", command: command, status: output.status, message: output.standardError)
            }
        }
        // What pcs made is now in the copy; the rest of the plan (changes, removals, the ownership tag) is
        // carried out on the copy the same way the cib route does it.
        guard let copyText = String(data: FileManager.default.contents(atPath: copyPath) ?? Data(), encoding: .utf8) else {
            throw ApplyError(step: "pcs", message: "cannot read back \(copyPath)")
        }
        var rest = options.plan
        rest.adopt = true
        let finish = try Planner.plan(liveCIB: copyText, desired: desired, options: rest)
        for step in finish.steps
        where step.action == .adopt && added.contains(step.key) && !step.changes.isEmpty && !step.changes.allSatisfy(\.secret) {
            options.progress("pcs made \(step.label) differently from khactl's render; khactl's definition is written")
        }
        let finalCIB = finish.desiredCIB ?? copyText
        _ = try workspace.write("pcs.xml", finalCIB)
        try await verify(finalCIB, in: workspace)
        let push = Command(
            "pcs", ["cluster", "cib-push", copyPath, "diff-against=\(originalPath)"], environment: environment,
            timeout: .seconds(120))
        let result = try await run("pcs cluster cib-push", push)
        guard result.succeeded else {
            throw ApplyError(
                step: "pcs cluster cib-push", command: push, status: result.status,
                message: result.standardError + result.standardOutput, isConflict: Self.isConflict(result))
        }
    }

    /// The value pcs gets on its command line for a secret parameter.
    static let secretPlaceholder = "khactl-secret-placeholder"

    /// `configuration` with the value of every secret instance attribute (a name with pass, secret, token or key)
    /// replaced by ``secretPlaceholder``.
    static func maskingSecrets(_ configuration: Configuration) -> Configuration {
        func masked(_ sets: [AttributeSet]) -> [AttributeSet] {
            sets.map { set in
                var set = set
                set.nvpairs = set.nvpairs.map { pair in
                    var pair = pair
                    if FlatXML.isSecret(pair.name), pair.value != nil { pair.value = secretPlaceholder }
                    return pair
                }
                return set
            }
        }
        func mask(_ resource: Resource) -> Resource {
            switch resource {
            case .primitive(var primitive):
                primitive.instanceAttributes = masked(primitive.instanceAttributes)
                return .primitive(primitive)
            case .group(var group):
                group.instanceAttributes = masked(group.instanceAttributes)
                group.members = group.members.map(mask)
                return .group(group)
            case .clone(var clone):
                clone.instanceAttributes = masked(clone.instanceAttributes)
                clone.child = mask(clone.child)
                return .clone(clone)
            case .opaque:
                return resource
            }
        }
        var result = configuration
        result.resources = result.resources.map(mask)
        return result
    }

    /// The part of `configuration` that `keys` name (top-level objects, and names of sets).
    static func subset(of configuration: Configuration, keys: Set<ObjectKey>) -> Configuration {
        var subset = Configuration()
        subset.resources = configuration.resources.filter { keys.contains(ObjectKey(.resource, $0.id ?? "")) }
        subset.constraints = configuration.constraints.filter { keys.contains(ObjectKey(.constraint, $0.id ?? "")) }
        subset.alerts = configuration.alerts?.filter { keys.contains(ObjectKey(.alert, $0.id)) }
        subset.fencingLevels = configuration.fencingLevels?.filter { keys.contains(ObjectKey(.fencingLevel, $0.id ?? "")) }
        func sets(_ sets: [AttributeSet]?, _ kind: ObjectKey.Kind) -> [AttributeSet]? {
            guard let sets else { return nil }
            let kept = sets.compactMap { set -> AttributeSet? in
                var copy = set
                copy.nvpairs = set.nvpairs.filter { keys.contains(ObjectKey(kind, "\(set.id ?? "")/\($0.name)")) }
                return copy.nvpairs.isEmpty ? nil : copy
            }
            return kept.isEmpty ? nil : kept
        }
        subset.properties = sets(configuration.properties, .property) ?? []
        subset.resourceDefaults = sets(configuration.resourceDefaults, .resourceDefault)
        subset.operationDefaults = sets(configuration.operationDefaults, .operationDefault)
        return subset
    }

    /// Checks the configuration of `cib` with crm_verify, without its status section: the status is not what
    /// an apply changes, and against it crm_verify warns of what an apply means to do, e.g. a removed resource
    /// that still runs ("active orphan", which Pacemaker stops: `stop-orphan-resources`).
    private func verify(_ cib: String, in workspace: Workspace) async throws {
        let path = try workspace.write("verify.xml", Self.withoutStatus(cib))
        let command = Command("crm_verify", ["--verbose", "--xml-file", path], timeout: .seconds(60))
        let output = try await run("verify", command)
        guard output.succeeded else {
            throw ApplyError(
                step: "verify (crm_verify)", command: command, status: output.status,
                message: output.standardError + output.standardOutput)
        }
    }

    /// `cib` without its `<status>` element (the CIB's last child, never nested).
    static func withoutStatus(_ cib: String) -> String {
        guard let start = cib.range(of: #"<status(\s[^>]*)?/?>"#, options: .regularExpression) else { return cib }
        if cib[start].hasSuffix("/>") { return String(cib[..<start.lowerBound] + cib[start.upperBound...]) }
        guard let end = cib.range(of: "</status>", options: .backwards), end.lowerBound >= start.upperBound else { return cib }
        return String(cib[..<start.lowerBound] + cib[end.upperBound...])
    }

    /// `cibadmin` refuses a patch made against an older CIB with CRM_EX_OLD (103).
    static func isConflict(_ output: CommandOutput) -> Bool {
        output.status == 103 || output.standardError.contains("older than existing")
            || output.standardError.contains("Update was older")
    }

    private func run(_ step: String, _ command: Command) async throws(ApplyError) -> CommandOutput {
        do {
            return try await runner.run(command)
        } catch {
            throw ApplyError(step: step, command: command, message: "\(error)")
        }
    }

    private func checked(_ step: String, _ command: Command) async throws(ApplyError) -> CommandOutput {
        let output = try await run(step, command)
        guard output.succeeded else {
            throw ApplyError(step: step, command: command, status: output.status, message: output.standardError)
        }
        return output
    }
}

/// A private folder (mode 0700) for the CIB copies of one attempt; CIBs hold fence passwords.
///
/// Workspaces live in khactl's private folder (`/run/khactl/apply` for root: 0700, root's, checked to be no link
/// and writable by no one else), never in a shared /tmp where another user could plant or swap a folder. The
/// folder's `.lock` is held (flock) while the attempt runs. An apply killed with SIGKILL cannot remove its
/// folder, so every apply that is not a dry run first removes the folders whose lock nobody holds any more,
/// through descriptors and only when they are real folders of its own user with mode 0700. A lock rather than a
/// pid in the name: applies in different PID namespaces (lab nodes, containers) can share one /run and cannot
/// see each other's pids.
struct Workspace {
    static let prefix = "khactl-apply-"
    let path: String
    private let lock: Int32

    static func folder() throws(ApplyError) -> PrivateFolder {
        do {
            return try PrivateFolder.runtime("apply")
        } catch {
            throw ApplyError(step: "prepare", message: "cannot use khactl's private folder: \(error)")
        }
    }

    init() throws {
        let folder = try Self.folder()
        var template = Array((folder.path + "/" + Self.prefix + "XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ApplyError(step: "prepare", message: "cannot make a private folder: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
        lock = open(path + "/.lock", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let message = String(cString: strerror(errno))
            if lock >= 0 { close(lock) }
            try? FileManager.default.removeItem(atPath: path)
            throw ApplyError(step: "prepare", message: "cannot lock the private folder \(path): \(message)")
        }
    }

    /// Removes the workspaces whose lock is free (their apply was killed), and those older than an hour that have
    /// no lock file at all (killed between making the folder and its lock).
    static func removeAbandoned() {
        guard let folder = try? folder() else { return }
        folder.removeEntries(where: { $0.hasPrefix(prefix) }) { entry in
            let fd = openat(entry, ".lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW)
            if fd < 0 {
                guard errno == ENOENT else { return false }
                var info = stat()
                return fstat(entry, &info) == 0 && Double(info.st_mtim.tv_sec) < Date().timeIntervalSince1970 - 3600
            }
            defer { close(fd) }
            return flock(fd, LOCK_EX | LOCK_NB) == 0
        }
    }

    /// Writes `text` to `name` in the folder (mode 0600) and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let file = "\(path)/\(name)"
        do {
            try SecureFile.write(file, Data(text.utf8), mode: 0o600)
        } catch {
            throw ApplyError(step: "prepare", message: "cannot write \(file): \(error)")
        }
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
        close(lock)
    }
}
