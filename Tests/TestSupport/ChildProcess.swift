import ClusterExec
import Foundation

/// A daemon started for a test with a clean signal state, through khactl's own `Daemon.spawn`.
///
/// Foundation's `Process` passes on the spawning thread's signal mask, and the test runner's threads
/// block almost every signal: a corosync started that way ignores SIGTERM. `Daemon.spawn` uses
/// `posix_spawn` with an empty signal mask and default dispositions, as a service manager would.
package struct ChildProcess: Sendable {
    package let identity: ProcessIdentity
    package var pid: pid_t { identity.pid }

    /// Starts `executable` with `arguments`; stdin is /dev/null, stdout and stderr go to `log` (or /dev/null).
    package static func spawn(
        _ executable: String, _ arguments: [String], log: String? = nil, environment: [String: String] = [:]
    ) throws -> ChildProcess {
        ChildProcess(
            identity: try Daemon.spawn(Command(executable, arguments, environment: environment), log: log ?? "/dev/null"))
    }

    /// Whether the process has not exited yet (reaping it if it has).
    package var isRunning: Bool { identity.isAlive }

    /// SIGTERM, then SIGKILL after `grace` seconds; returns once the process is gone.
    package func terminate(grace: TimeInterval) {
        identity.terminate(grace: .milliseconds(Int(grace * 1000)))
    }
}
