import ClusterExec
import Foundation

/// A daemon started for a test with a clean signal state.
///
/// Foundation's `Process` passes on the spawning thread's signal mask, and the test runner's threads
/// block almost every signal: a corosync started that way ignores SIGTERM. This spawns with
/// `posix_spawn`, an empty signal mask and default dispositions, as a service manager would.
struct ChildProcess: Sendable {
    let pid: pid_t

    /// Starts `executable` with `arguments`; stdin is /dev/null, stdout and stderr go to `log` (or /dev/null).
    static func spawn(
        _ executable: String, _ arguments: [String], log: String? = nil, environment: [String: String] = [:]
    ) throws -> ChildProcess {
        var attributes = SpawnAttributes.clean(newSession: false)
        defer { posix_spawnattr_destroy(&attributes) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw TestSetupError("posix_spawn \(executable) failed: \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid)
    }

    /// Whether the process has not exited yet (reaping it if it has).
    var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; returns once the process is reaped.
    func terminate(grace: TimeInterval) {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) != 0 { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}
