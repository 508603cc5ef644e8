import Pacemaker
import KhactlCore
import ClusterExec
import Foundation

/// pcsd in lab nodes, for `khactl lab bootstrap --via pcsd`: each node runs its own pcsd on its own address
/// (port 2224), with the `hacluster` password set in a copy of /etc/shadow that only the node sees, and
/// pcsd's state (/var/lib/pcsd: TLS certificate, tokens, known hosts) and logs in the node's private folders.
extension Lab {
    /// The hacluster password inside every pcsd node, as an operator would keep it for `khactl bootstrap`.
    static let nodeHaclusterPasswordFile = "/etc/khactl/hacluster-password"
    /// The node's /etc/shadow, in its folder: the host's with the lab's hacluster password.
    static let shadowFile = "etc-shadow"

    /// Makes every node a pcsd node: the lab's hacluster password (made once, 0400), each node's shadow
    /// copy and password file, the shadow copy mounted over /etc/shadow inside the node, and pcsd started.
    func preparePCSD(_ state: LabState) async throws {
        let passwordPath = folder.appendingPathComponent("hacluster-password").path
        if !FileManager.default.fileExists(atPath: passwordPath) {
            try Lab.replaceFile(passwordPath, with: Data(Lab.randomPassword().utf8), mode: 0o400)
        }
        guard let password = FileManager.default.contents(atPath: passwordPath) else {
            throw LabError("cannot read \(passwordPath)")
        }
        // SHA-512 crypt, as passwd makes it; the password goes to openssl on standard input.
        let hash = try await runner.check(
            Command("openssl", ["passwd", "-6", "-stdin"], standardInput: [UInt8](password) + [0x0a])
        ).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let shadow = try String(contentsOfFile: "/etc/shadow", encoding: .utf8)
        guard let text = Lab.shadow(shadow, hacluster: hash) else {
            throw LabError("this host has no hacluster user in /etc/shadow (is pcs installed?)")
        }
        let nodeShadow = Data(text.utf8)
        let shadowGroup = getgrnam("shadow")?.pointee.gr_gid ?? 0
        if state.bootsSystemd {
            // Each node has an /etc of its own: the password goes into its /etc/shadow (as `chpasswd` would put it),
            // and pcsd is started as on a distribution that does not start it at install: `systemctl enable --now pcsd`.
            for node in state.nodes {
                let root = store.nodeFolder(node.index)
                let nodePassword = root.appendingPathComponent(String(Lab.nodeHaclusterPasswordFile.dropFirst())).path
                try Self.replaceFile(nodePassword, with: password, mode: 0o400)
                let shadowPath = root.appendingPathComponent("etc/shadow").path
                let nodeShadow = try String(contentsOfFile: shadowPath, encoding: .utf8)
                let changed = Lab.shadow(nodeShadow, hacluster: hash)
                guard let changed else { throw LabError("\(node.name) has no hacluster user in /etc/shadow (is pcs installed?)") }
                if changed != nodeShadow { try Self.replaceFile(shadowPath, with: Data(changed.utf8), mode: 0o640, owner: (0, shadowGroup)) }
                try await runner.check(try nodeCommand(node.index, ["systemctl", "enable", "--now", "pcsd"], timeout: .seconds(120)))
            }
            return
        }
        for node in state.nodes {
            let root = store.nodeFolder(node.index)
            let path = root.appendingPathComponent(Lab.shadowFile).path
            try Self.replaceFile(path, with: nodeShadow, mode: 0o640, owner: (0, shadowGroup))
            let nodePassword = root.appendingPathComponent(String(Lab.nodeHaclusterPasswordFile.dropFirst())).path
            try FileManager.default.createDirectory(
                atPath: (nodePassword as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Self.replaceFile(nodePassword, with: password, mode: 0o400)
            guard let initProcess = node.initProcess, initProcess.isAlive else {
                throw LabError("\(node.name) is powered off")
            }
            try await startPCSD(initProcess, root: root)
        }
    }

    /// `shadow` with `hash` as hacluster's password, or nil when it has no hacluster line.
    static func shadow(_ shadow: String, hacluster hash: String) -> String? {
        var found = false
        let lines = shadow.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.first == "hacluster", fields.count > 2 else { return String(line) }
            found = true
            fields[1] = hash
            return fields.joined(separator: ":")
        }
        return found ? lines.joined(separator: "\n") : nil
    }

    /// Mounts the node's shadow copy over /etc/shadow (once) and starts pcsd in it unless it runs; waits
    /// until pcsd listens. A node without a shadow copy is not a pcsd node: nothing happens.
    func startPCSD(_ initProcess: ProcessIdentity, root: URL) async throws {
        let shadow = root.appendingPathComponent(Lab.shadowFile).path
        guard FileManager.default.fileExists(atPath: shadow) else { return }
        let mounted = try await runner.run(
            Command("nsenter", Lab.enter(initProcess, ["findmnt", "--mountpoint", "/etc/shadow"])))
        if !mounted.succeeded {
            try await runner.check(
                Command("nsenter", Lab.enter(initProcess, ["mount", "--bind", shadow, "/etc/shadow"])))
        }
        if try await pcsdListens(initProcess) { return }
        // pcsd is two daemons, as the pcsd-ruby and pcsd units run them: the Ruby back end on a socket in
        // /run, and the Python front end on :2224. Both stay in the foreground; setsid -f detaches them.
        let environment = [
            "RACK_ENV": "production", "PCSD_DISABLE_GUI": "true", "PCSD_DEBUG": "false",
            "PCSD_SESSION_LIFETIME": "3600",
        ]
        for (daemon, log) in [("/usr/share/pcsd/pcsd", "pcsd-ruby.out"), ("/usr/sbin/pcsd", "pcsd.out")] {
            let spawned = try Daemon.spawn(
                Command("nsenter", Lab.enter(initProcess, ["setsid", "-f", daemon]), environment: environment),
                log: root.appendingPathComponent("var/log/pcsd/\(log)").path)
            try await waitUntilGone(spawned, timeout: .seconds(10))
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await pcsdListens(initProcess) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LabError("pcsd did not listen on :2224 within 30 s; see \(root.path)/var/log/pcsd/")
    }

    private func pcsdListens(_ initProcess: ProcessIdentity) async throws -> Bool {
        let output = try await runner.run(
            Command("nsenter", Lab.enter(initProcess, ["ss", "-Hltn", "sport", "=", ":2224"])))
        return output.succeeded && !output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }
}
