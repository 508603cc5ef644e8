import Foundation

/// A process identified by its PID and its start time, so a recycled PID is never mistaken for it.
public struct ProcessIdentity: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The PID in the root PID namespace.
    public let pid: Int32
    /// The start time in clock ticks since boot (field 22 of /proc/PID/stat).
    public let startTime: UInt64

    /// Creates an identity.
    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// The identity of the live process `pid`, or nil when there is none.
    public static func of(_ pid: Int32) -> ProcessIdentity? {
        guard let stat = ProcStat(pid: pid) else { return nil }
        return ProcessIdentity(pid: pid, startTime: stat.startTime)
    }

    /// Whether this very process still runs (not a zombie, not a new process under the same PID).
    /// Reaps it first when it is a child of ours that has exited.
    public var isAlive: Bool {
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
        guard let stat = ProcStat(pid: pid) else { return false }
        return stat.startTime == startTime && stat.state != "Z" && stat.state != "X"
    }

    /// Sends `signal` if this very process still runs; returns whether it was sent.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        guard isAlive else { return false }
        return kill(pid, signal) == 0
    }

    /// SIGKILL, then waits up to `timeout` for the process to be gone.
    public func killAndWait(timeout: Duration = .seconds(5)) {
        signal(SIGKILL)
        let deadline = ContinuousClock.now + timeout
        while isAlive && ContinuousClock.now < deadline { usleep(5_000) }
    }

    /// SIGTERM, then SIGKILL after `grace`; returns once the process is gone.
    public func terminate(grace: Duration = .seconds(5)) {
        guard signal(SIGTERM) else { return }
        let deadline = ContinuousClock.now + grace
        while isAlive && ContinuousClock.now < deadline { usleep(10_000) }
        if isAlive { killAndWait() }
    }

    /// The PIDs of this process's children.
    public var children: [Int32] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else { return [] }
        return text.split(separator: " ").compactMap { Int32($0) }
    }

    /// `pid` (started at tick `startTime`).
    public var description: String { "\(pid)" }
}

/// The fields of /proc/PID/stat that khactl needs.
struct ProcStat {
    let state: Character
    let startTime: UInt64

    init?(pid: Int32) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) " come: state(3) ppid(4) ... starttime(22); comm may contain spaces.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let first = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        state = first
        startTime = start
    }
}

/// Starts long-lived processes that must outlive khactl: in a new session, with an empty signal mask
/// and default signal dispositions (as a service manager starts them), stdin from /dev/null and
/// stdout/stderr appended to a log file.
///
/// swift-subprocess waits for the processes it runs; a daemon khactl leaves behind needs this instead.
public enum Daemon {
    /// Starts `command` detached and returns its identity.
    public static func spawn(_ command: Command, log: String) throws(CommandError) -> ProcessIdentity {
        // O_NOFOLLOW: log folders such as /var/log/pacemaker are writable by hacluster, who could plant a link.
        let pid = try start(command, output: .log(log))
        guard let identity = ProcessIdentity.of(pid) else {
            // It exited at once; its log says why.
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)).map { String($0.suffix(500)) } ?? ""
            throw CommandError(command: command, reason: .launchFailed("exited at once: \(text)"))
        }
        return identity
    }

    /// Where a detached process's standard output goes.
    enum Output {
        /// Appended to this file (opened without following links), standard error with it.
        case log(String)
        /// Into this pipe's write end (the read end is closed in the child); standard error to /dev/null.
        case pipe(read: Int32, write: Int32)
    }

    /// The one `posix_spawn` of khactl: a new session, an empty signal mask and default dispositions (as a
    /// service manager starts daemons), stdin from /dev/null, `output`, no descriptor above 2, and khactl's
    /// environment with the command's variables added. Returns the child's pid.
    static func start(_ command: Command, output: Output) throws(CommandError) -> pid_t {
        var attributes = SpawnAttributes.clean(newSession: true)
        defer { posix_spawnattr_destroy(&attributes) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch output {
        case .log(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0o640)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .pipe(let read, let write):
            posix_spawn_file_actions_adddup2(&actions, write, 1)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addclose(&actions, read)
            posix_spawn_file_actions_addclose(&actions, write)
        }
        SpawnFileActions.closeFromThree(&actions)

        let executable = resolve(command.executable)
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in command.environment { environment[key] = value }
        let argv = ([executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw CommandError(command: command, reason: .launchFailed(String(cString: strerror(result))))
        }
        return pid
    }

    /// The absolute path of `name`, searched in PATH when it has no slash.
    public static func resolve(_ name: String) -> String {
        if name.contains("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let folders: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        for folder in folders {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }
}

/// A program whose standard output is read line by line while it runs, in a session of its own so that
/// ``stop()`` ends it and everything it started (nsenter's child included) with one signal to the group.
public final class StreamingProcess: Sendable {
    /// The process.
    public let identity: ProcessIdentity
    private let readFD: Int32

    /// Starts `command`; `onLine` is called on a private thread for every line of its standard output.
    public init(_ command: Command, onLine: @escaping @Sendable (String) -> Void) throws(CommandError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw CommandError(command: command, reason: .launchFailed("pipe failed")) }
        let pid: pid_t
        do {
            pid = try Daemon.start(command, output: .pipe(read: fds[0], write: fds[1]))
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        guard let identity = ProcessIdentity.of(pid) else {
            close(fds[0])
            throw CommandError(command: command, reason: .launchFailed("exited at once"))
        }
        self.identity = identity
        self.readFD = fds[0]
        let fd = fds[0]
        let thread = Thread {
            var pending = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                pending += buffer[0..<count]
                while let newline = pending.firstIndex(of: 10) {
                    onLine(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            close(fd)
        }
        thread.start()
    }

    /// SIGKILL to the process's whole group, then reaps it.
    public func stop() {
        kill(-identity.pid, SIGKILL)
        var status: Int32 = 0
        waitpid(identity.pid, &status, 0)
    }
}

/// File actions every khactl spawn shares.
public enum SpawnFileActions {
    /// Adds glibc's `posix_spawn_file_actions_addclosefrom_np(actions, 3)` (glibc 2.34+), looked up at run
    /// time because the Glibc module does not export it. Without it a daemon inherits every descriptor
    /// khactl got without close-on-exec, such as the write end of the pipe a caller reads khactl's output
    /// from, and that caller then never sees end-of-file.
    public static func closeFromThree(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        // nil is RTLD_DEFAULT on glibc: search the libraries already loaded.
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        _ = closeFrom(&actions, 3)
    }
}

/// posix_spawn attributes for every process khactl starts.
public enum SpawnAttributes {
    /// Attributes with an empty signal mask and default dispositions for every signal, as a service
    /// manager starts a daemon (a child otherwise inherits the spawning thread's mask, and threads of
    /// Dispatch and of test runners block most signals: such a corosync ignores SIGTERM), optionally in
    /// a new session. The caller destroys them with `posix_spawnattr_destroy`.
    public static func clean(newSession: Bool) -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // POSIX_SPAWN_SETSID (0x80) is a glibc extension the Swift importer does not always see.
        let session: Int32 = newSession ? 0x80 : 0
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | session))
        return attributes
    }
}
