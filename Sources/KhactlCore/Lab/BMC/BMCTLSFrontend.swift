import ClusterExec
import Foundation

/// The TLS side of the lab BMC: an haproxy that terminates HTTPS (which is all `fence_redfish` speaks) and
/// forwards plain HTTP to a ``RedfishBMC``.
///
/// This value only renders haproxy's configuration and the arguments to run it with; starting and
/// stopping haproxy is the caller's job (`haproxy -f CONFIG -db` stays in the foreground).
public struct BMCTLSFrontend: Sendable, Hashable {
    /// The address HTTPS is served on (IPv4 or IPv6, numeric).
    public var address: String
    /// The HTTPS port; Redfish clients default to 443.
    public var port: UInt16
    /// A PEM file with the certificate followed by its private key (see ``generateSelfSignedPEM(at:openssl:)``).
    public var pemPath: String
    /// Where the plain-HTTP BMC listens.
    public var backendAddress: String
    /// The plain-HTTP BMC's port.
    public var backendPort: UInt16
    /// How long a request may wait for the BMC: power commands can take a while to kill or revive a node.
    public var serverTimeoutSeconds: Int

    /// A frontend on `address:port` for the BMC at `backendAddress:backendPort`.
    public init(
        address: String, port: UInt16 = 443, pemPath: String, backendAddress: String, backendPort: UInt16,
        serverTimeoutSeconds: Int = 180
    ) {
        self.address = address
        self.port = port
        self.pemPath = pemPath
        self.backendAddress = backendAddress
        self.backendPort = backendPort
        self.serverTimeoutSeconds = serverTimeoutSeconds
    }

    /// haproxy's `ADDRESS:PORT` spelling; IPv6 addresses take the `ipv6@` prefix since their colons are
    /// otherwise ambiguous.
    static func endpoint(_ address: String, _ port: UInt16) -> String {
        address.contains(":") ? "ipv6@\(address):\(port)" : "\(address):\(port)"
    }

    /// The haproxy configuration: one HTTP frontend with `ssl crt PEM`, one backend server.
    public var configuration: String {
        """
        # Rendered by khactl: TLS in front of the lab BMC (plain HTTP Redfish).
        global
            maxconn 256

        defaults
            mode http
            timeout connect 5s
            timeout client 60s
            timeout server \(serverTimeoutSeconds)s
            timeout http-request 30s

        frontend khactl_bmc_tls
            bind \(Self.endpoint(address, port)) ssl crt \(pemPath)
            default_backend khactl_bmc

        backend khactl_bmc
            server bmc \(Self.endpoint(backendAddress, backendPort))

        """
    }

    /// The arguments to run haproxy in the foreground with the configuration written at `configurationPath`.
    public static func haproxyArguments(configurationPath: String) -> [String] {
        ["-f", configurationPath, "-db"]
    }

    /// Writes a new self-signed certificate for `CN=khactl-lab-bmc` (RSA 2048, ten years) and its key to
    /// `path` as one PEM file (certificate first, then key), readable by its owner only.
    ///
    /// Runs `openssl req -x509` with an argument array; throws ``LabBMCError`` when openssl fails.
    public static func generateSelfSignedPEM(at path: String, openssl: String = "/usr/bin/openssl") throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "khactl-bmc-pem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: scratch) }
        let keyPath = scratch.appendingPathComponent("key.pem").path
        let certificatePath = scratch.appendingPathComponent("cert.pem").path
        try ExternalCommand(argv: [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=khactl-lab-bmc",
            "-keyout", keyPath, "-out", certificatePath,
        ]).run(timeout: 60)
        guard let certificate = FileManager.default.contents(atPath: certificatePath),
            let key = FileManager.default.contents(atPath: keyPath)
        else {
            throw LabBMCError(.command, "openssl req did not write a certificate and key into \(scratch.path)")
        }
        // The one writer: mode 0600 from the first byte, no link followed, renamed into place.
        do {
            try SecureFile.write(path, certificate + key, mode: 0o600)
        } catch {
            throw LabBMCError(.configuration, "cannot write the PEM file \(path): check that its folder exists", underlying: error)
        }
    }
}
