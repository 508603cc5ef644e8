import Corosync
import Foundation
import Testing

/// A real single-node corosync (knet on loopback, crypto on) in a network and mount namespace of its own.
///
/// The namespaces are held by a `sleep` started with `unshare`; corosync runs in them through `nsenter`
/// with private /etc/corosync, /var/lib/corosync, /var/log/corosync and /run bind-mounted from a scratch
/// folder, so it never meets a corosync on the host or of another test. ``stop()`` ends both processes by
/// PID and removes the folder; nothing is created in the root namespace.
package final class TestCorosync: @unchecked Sendable {
    // @unchecked Sendable: `corosync` is replaced only by stopCorosync()/startCorosync(), which tests call
    // from one task at a time; everything else is immutable.
    package let scratch: URL
    package let holder: ChildProcess
    private(set) var corosync: ChildProcess?
    package let clusterName: String
    package let nodeName: String

    /// `/proc/HOLDER/ns/net`: the endpoint for the library and for `khactl --netns`.
    package var namespacePath: String { "/proc/\(holder.pid)/ns/net" }
    package var endpoint: CorosyncEndpoint { .networkNamespace(namespacePath) }

    /// Starts corosync and waits until it is quorate.
    package static func start(clusterName: String = "khtest", nodeName: String = "alpha", authkey: String? = nil) throws -> TestCorosync {
        try requireRootAndNamespaces()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-test-\(UUID().uuidString.prefix(8))")
        for folder in ["etc", "lib", "log", "run"] {
            try FileManager.default.createDirectory(at: scratch.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let config = """
            totem {
                version: 2
                cluster_name: \(clusterName)
                transport: knet
                crypto_cipher: aes256
                crypto_hash: sha256
                token: 1000
            }
            nodelist {
                node {
                    name: \(nodeName)
                    nodeid: 1
                    ring0_addr: 127.0.0.1
                }
            }
            quorum {
                provider: corosync_votequorum
            }
            logging {
                to_stderr: yes
                to_logfile: yes
                logfile: /var/log/corosync/corosync.log
                to_syslog: no
            }

            """
        try config.write(to: scratch.appendingPathComponent("etc/corosync.conf"), atomically: true, encoding: .utf8)
        let keyPath = scratch.appendingPathComponent("etc/authkey").path
        if let authkey {
            try FileManager.default.copyItem(atPath: authkey, toPath: keyPath)
        } else {
            var key = [UInt8](repeating: 0, count: 256)
            for index in key.indices { key[index] = UInt8.random(in: 0...255) }
            _ = FileManager.default.createFile(atPath: keyPath, contents: Data(key), attributes: [.posixPermissions: 0o400])
        }

        let holder = try ChildProcess.spawn("/usr/bin/unshare", ["--net", "--mount", "--propagation", "private", "--", "sleep", "100000"])
        let node = TestCorosync(scratch: scratch, holder: holder, clusterName: clusterName, nodeName: nodeName)
        do {
            try node.waitForNamespace()
            try run("/usr/bin/nsenter", ["-t", "\(holder.pid)", "--net", "--", "ip", "link", "set", "lo", "up"])
            for (folder, target) in [("etc", "/etc/corosync"), ("lib", "/var/lib/corosync"), ("log", "/var/log/corosync"), ("run", "/run")] {
                try run("/usr/bin/nsenter", ["-t", "\(holder.pid)", "--mount", "--", "mount", "--bind", scratch.appendingPathComponent(folder).path, target])
            }
            try node.startCorosync()
        } catch {
            node.stop()
            throw error
        }
        return node
    }

    private init(scratch: URL, holder: ChildProcess, clusterName: String, nodeName: String) {
        self.scratch = scratch
        self.holder = holder
        self.clusterName = clusterName
        self.nodeName = nodeName
    }

    /// Starts corosync in the namespaces and waits until cmap answers and the partition is quorate.
    package func startCorosync() throws {
        let log = scratch.appendingPathComponent("log/stderr.log")
        corosync = try ChildProcess.spawn(
            "/usr/bin/nsenter", ["-t", "\(holder.pid)", "--net", "--mount", "--", "corosync", "-f"], log: log.path)
        let deadline = Date().addingTimeInterval(20)
        var lastError: (any Error)?
        while Date() < deadline {
            if corosync?.isRunning != true { break }
            do {
                let quorum = try Quorum(endpoint: endpoint)
                defer { quorum.close() }
                if try quorum.isQuorate() { return }
            } catch {
                lastError = error
            }
            usleep(100_000)
        }
        let logText = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw TestSetupError("corosync did not become quorate in 20 s (last error: \(String(describing: lastError))); its log:\n\(logText.suffix(2000))")
    }

    /// Stops corosync (SIGTERM, then SIGKILL after 10 s) and waits for it to exit.
    package func stopCorosync() {
        guard let corosync else { return }
        corosync.terminate(grace: 10)
        self.corosync = nil
    }

    /// Stops everything this node started and removes its scratch folder.
    package func stop() {
        stopCorosync()
        holder.terminate(grace: 2)
        try? FileManager.default.removeItem(at: scratch)
    }

    private func waitForNamespace() throws {
        let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for _ in 0..<200 {
            if let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: namespacePath), theirs != own {
                return
            }
            usleep(10_000)
        }
        throw TestSetupError("unshare did not create a network namespace (pid \(holder.pid))")
    }

    // MARK: processes

    /// Runs a command to completion and throws with its output when it fails.
    @discardableResult
    package static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text)")
        }
        return text
    }

    package static func terminate(_ process: Process, grace: TimeInterval) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Fails with a clear message where real-daemon tests cannot run.
    package static func requireRootAndNamespaces() throws {
        guard geteuid() == 0 else {
            throw TestSetupError("the real-corosync tests start corosync in network namespaces and must run as root")
        }
        for tool in ["/usr/bin/unshare", "/usr/bin/nsenter", "/usr/sbin/corosync"] {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                throw TestSetupError("\(tool) is missing: run Scripts/install-deps.sh")
            }
        }
    }
}

/// A test environment problem, reported as the test's failure.
package struct TestSetupError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Runs `body` with a fresh corosync and stops it afterwards, also when `body` throws.
package func withCorosync<T>(_ body: (TestCorosync) async throws -> T) async throws -> T {
    let node = try TestCorosync.start()
    defer { node.stop() }
    return try await body(node)
}

/// The folder that holds the built executables (khactl, cpg-peer).
package let productsDirectory: URL = {
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var folder = runner.deletingLastPathComponent()
    // On Linux the test runner is <products>/khactlPackageTests.xctest; elsewhere it may sit deeper.
    while folder.path != "/" {
        if FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("khactl").path) { return folder }
        folder.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug").standardized
}()
