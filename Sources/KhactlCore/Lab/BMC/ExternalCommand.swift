import ClusterExec
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program and its arguments, run to completion by the lab BMC (openssl, power commands).
///
/// Spawned with `posix_spawnp` rather than Foundation's `Process`: the child gets an empty signal mask and
/// default signal dispositions (a power-on command may start daemons that must honour SIGTERM, and
/// `Process` would pass on whatever the calling thread blocks), and no descriptor above 2, so it never
/// inherits the BMC's sockets. Output goes to a temporary file rather than a pipe, because daemons
/// started by the command keep their stdout open long after the command itself has exited.
struct ExternalCommand: Sendable {
    /// `argv[0]` (looked up in `PATH` when it has no slash) and the arguments; never a shell string.
    var argv: [String]
    /// Variables added to the inherited environment.
    var environment: [String: String] = [:]

    /// How a finished command ended.
    struct Outcome: Sendable {
        /// The exit status, or `128 + signal` when killed.
        var status: Int32
        /// The last 4 KiB of its combined stdout and stderr.
        var output: String
    }

    /// How the command looks in messages (arguments joined with spaces; display only).
    var display: String { argv.joined(separator: " ") }

    /// Runs the command, killing it after `timeout` seconds; throws ``LabBMCError`` (`.command`) when it
    /// cannot start, times out, or (with `checked`) exits non-zero.
    @discardableResult
    func run(timeout: TimeInterval, checked: Bool = true) throws -> Outcome {
        precondition(!argv.isEmpty, "an external command needs at least a program name")
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("khactl-bmc-command-\(UUID().uuidString).log").path
        defer { unlink(outputPath) }

        var attributes = SpawnAttributes.clean(newSession: false)
        defer { posix_spawnattr_destroy(&attributes) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        Self.closeDescriptorsFromThree(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        let cEnvironment = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for variable in cEnvironment { free(variable) } }
        let spawned = posix_spawnp(&pid, argv[0], &actions, &attributes, cArguments, cEnvironment)
        guard spawned == 0 else {
            throw LabBMCError(
                .command,
                "cannot run \(display): \(String(cString: strerror(spawned))); check that \(argv[0]) is installed")
        }

        // Poll rather than block in waitpid, so the deadline holds; the child stays unreaped (its PID
        // reserved) until waitpid succeeds, so the SIGKILL below cannot hit another process.
        let deadline = Date().addingTimeInterval(timeout)
        var rawStatus: Int32 = 0
        var timedOut = false
        while true {
            let result = waitpid(pid, &rawStatus, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR {
                throw LabBMCError(
                    .command, "lost track of \(display) (pid \(pid)): \(String(cString: strerror(errno)))")
            }
            if Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                while waitpid(pid, &rawStatus, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(20_000)
        }
        let output = Self.tail(of: outputPath)
        if timedOut {
            throw LabBMCError(
                .command, "\(display) did not finish within \(Int(timeout)) s and was killed; its output: \(output)")
        }
        // WIFEXITED / WTERMSIG are macros Swift cannot see; the layout is glibc's: low 7 bits the signal.
        let signal = rawStatus & 0x7F
        let status = signal == 0 ? (rawStatus >> 8) & 0xFF : 128 + signal
        if checked && status != 0 {
            throw LabBMCError(.command, "\(display) exited with status \(status); its output: \(output)")
        }
        return Outcome(status: status, output: output)
    }

    private static func tail(of path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data.suffix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func closeDescriptorsFromThree(_ actions: inout posix_spawn_file_actions_t) {
        SpawnFileActions.closeFromThree(&actions)
    }
}
