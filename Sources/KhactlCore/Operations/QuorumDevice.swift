import ClusterExec
import Foundation

/// The certificates of a quorum device, and the witness that runs corosync-qnetd.
///
/// corosync-qdevice and corosync-qnetd authenticate each other with TLS (NSS databases): qnetd's CA signs a
/// client certificate for the cluster, which every node holds. `khactl witness init` makes all of it on the
/// witness (where the CA's key already lives) with corosync's own tools, and writes the two files every node
/// needs into one folder: the CA certificate and the cluster's certificate with its key (PKCS#12, 0600).
/// Bootstrap imports them on each node (`--qdevice-certificates DIR`).
package enum QuorumDeviceCertificates {
    /// qnetd's NSS database, and the CA certificate it exports.
    static let qnetdDatabase = "/etc/corosync/qnetd/nssdb"
    package static let caCertificate = "qnetd-cacert.crt"
    /// A node's NSS database for qdevice.
    static let nodeDatabase = "/etc/corosync/qdevice/net/nssdb"
    package static let bundle = "qdevice-net-node.p12"

    /// Whether a NSS database exists in `folder`.
    static func databaseExists(_ folder: String) -> Bool {
        ["cert9.db", "cert8.db"].contains { FileManager.default.fileExists(atPath: "\(folder)/\($0)") }
    }

    /// On the witness: qnetd's CA (once), the cluster's client certificate signed by it, both written to `output`;
    /// then corosync-qnetd started (systemd's unit, or directly). Returns what it did.
    package static func initWitness(cluster: String, output: String, progress: @Sendable (String) -> Void) async throws -> [String] {
        let runner = SubprocessRunner()
        var steps: [String] = []
        func run(_ executable: String, _ arguments: [String], _ step: String) async throws {
            do {
                try await runner.check(Command(executable, arguments, timeout: .seconds(120)))
            } catch {
                throw BootstrapError("\(step): \(error)")
            }
        }
        if !databaseExists(qnetdDatabase) {
            try await run("corosync-qnetd-certutil", ["-i"], "make qnetd's CA (corosync-qnetd-certutil -i)")
            steps.append("make qnetd's CA and server certificate in \(qnetdDatabase)")
        }
        // The cluster's certificate request is made in a node database on the witness itself, signed by the CA
        // next to it, exported with its key, and the node database removed: the key leaves only in the bundle.
        if databaseExists(nodeDatabase) {
            throw BootstrapError("\(nodeDatabase) exists on the witness; a witness is not a cluster node (remove it if it is left from an earlier run)")
        }
        defer { try? FileManager.default.removeItem(atPath: (nodeDatabase as NSString).deletingLastPathComponent) }
        try await run("corosync-qdevice-net-certutil", ["-i", "-c", "\(qnetdDatabase)/\(caCertificate)"], "corosync-qdevice-net-certutil -i")
        try await run("corosync-qdevice-net-certutil", ["-r", "-n", cluster], "make the cluster's certificate request")
        try await run(
            "corosync-qnetd-certutil", ["-s", "-c", "\(nodeDatabase)/qdevice-net-node.crq", "-n", cluster], "sign the cluster's certificate")
        try await run(
            "corosync-qdevice-net-certutil", ["-M", "-c", "\(qnetdDatabase)/cluster-\(cluster).crt"], "export the cluster's certificate")
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for (file, from, mode) in [
            (caCertificate, "\(qnetdDatabase)/\(caCertificate)", 0o644), (bundle, "\(nodeDatabase)/\(bundle)", 0o600),
        ] {
            guard let data = FileManager.default.contents(atPath: from) else { throw BootstrapError("cannot read \(from)") }
            do {
                try SecureFile.write("\(output)/\(file)", data, mode: mode_t(mode))
            } catch {
                throw BootstrapError("cannot write \(error)")
            }
        }
        steps.append("sign the certificate of cluster \(cluster); \(output)/\(caCertificate) and \(output)/\(bundle) (0600) go to every node")
        if Bootstrap.systemdRuns {
            try await run("systemctl", ["enable", "--now", "corosync-qnetd"], "start corosync-qnetd")
            steps.append("enable and start corosync-qnetd (systemd)")
        } else if !Bootstrap.running("corosync-qnetd") {
            if let user = getpwnam("coroqnetd") {
                // The unit runs qnetd as coroqnetd; its database and run folder are that user's.
                chown(qnetdDatabase, user.pointee.pw_uid, user.pointee.pw_gid)
                for file in (try? FileManager.default.contentsOfDirectory(atPath: qnetdDatabase)) ?? [] {
                    chown("\(qnetdDatabase)/\(file)", user.pointee.pw_uid, user.pointee.pw_gid)
                }
            }
            try FileManager.default.createDirectory(atPath: "/run/corosync-qnetd", withIntermediateDirectories: true)
            try await run("corosync-qnetd", [], "start corosync-qnetd")
            steps.append("start corosync-qnetd (no systemd here: started directly)")
        }
        for step in steps { progress("witness: \(step)") }
        return steps
    }

    /// On a node: the CA certificate and the cluster's certificate from `folder` into qdevice's database.
    static func importOnNode(from folder: String, runner: any CommandRunner) async throws {
        for file in [caCertificate, bundle] where !FileManager.default.fileExists(atPath: "\(folder)/\(file)") {
            throw BootstrapError("--qdevice-certificates \(folder) has no \(file) (made by `khactl witness init` on the witness)")
        }
        for (arguments, step) in [
            (["-i", "-c", "\(folder)/\(caCertificate)"], "import qnetd's CA certificate"),
            (["-m", "-c", "\(folder)/\(bundle)"], "import the cluster's certificate"),
        ] {
            do {
                try await runner.check(Command("corosync-qdevice-net-certutil", arguments, timeout: .seconds(60)))
            } catch {
                throw BootstrapError("\(step): \(error)")
            }
        }
    }
}
