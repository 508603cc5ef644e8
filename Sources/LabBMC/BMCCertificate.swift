import ClusterExec
import Foundation

/// The lab BMC's TLS identity: a self-signed certificate and its key in one PEM file.
package enum BMCCertificate {
    /// Writes a new self-signed certificate for `CN=khactl-lab-bmc` (RSA 2048, ten years) and its key to
    /// `path` as one PEM file (certificate first, then key), readable by its owner only.
    ///
    /// Runs `openssl req -x509` (an argument array, on ClusterExec's spawn path) in a private scratch folder;
    /// throws ``LabBMCError`` when openssl fails.
    package static func generate(at path: String, openssl: String = "/usr/bin/openssl") async throws {
        let scratch = try PrivateFolder.runtime("khactl-bmc-pem-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: scratch.path) }
        let keyPath = "\(scratch.path)/key.pem"
        let certificatePath = "\(scratch.path)/cert.pem"
        do {
            try await SubprocessRunner().check(
                Command(openssl, [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=khactl-lab-bmc",
                    "-keyout", keyPath, "-out", certificatePath,
                ], timeout: .seconds(60)))
        } catch {
            throw LabBMCError(.command, error.description)
        }
        guard let certificate = FileManager.default.contents(atPath: certificatePath),
            let key = FileManager.default.contents(atPath: keyPath)
        else {
            throw LabBMCError(.command, "openssl req did not write a certificate and key into \(scratch.path)")
        }
        do {
            try SecureFile.write(path, certificate + key, mode: 0o600)
        } catch {
            throw LabBMCError(.configuration, "cannot write the PEM file \(path): check that its folder exists", underlying: error)
        }
    }
}
