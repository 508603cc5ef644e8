/// The haproxy configuration of the Kubernetes profile: a TCP frontend on every VIP's frontend port, and a
/// backend of every controller's API server, health-checked over TLS on `/healthz`.
///
/// haproxy runs on every controller (a clone) and binds the VIPs before they arrive, which
/// `net.ipv4.ip_nonlocal_bind=1` allows; so a VIP that moves finds haproxy already listening.
package enum HAProxyConfig {
    /// The configuration text; the same inputs always give the same bytes.
    package static func render(profile: KubernetesControlPlaneProfile, cluster: ClusterSpec) -> String {
        var lines = [
            "# Written by khactl bootstrap from the cluster's spec. Changes are overwritten on the next bootstrap.",
            "global",
            "    maxconn 4096",
            "    stats socket /run/haproxy-khactl.sock mode 600 level admin",
            "",
            "defaults",
            "    mode tcp",
            "    option dontlognull",
            "    timeout connect 3s",
            "    timeout client 1h",
            "    timeout server 1h",
            "    timeout check 2s",
            // A connection refused by an API server that is stopping (a controller going to standby, a rolling
            // upgrade) is tried again on another server at once, before the health checks mark it down.
            "    retries 3",
            "    option redispatch 1",
            "",
            "frontend kube-apiserver",
        ]
        for vip in profile.vips {
            let host = vip.contains(":") ? "[\(vip)]" : vip
            lines.append("    bind \(host):\(profile.frontendPort)")
        }
        lines += [
            "    default_backend kube-apiserver",
            "",
            "backend kube-apiserver",
            "    balance roundrobin",
            "    option httpchk GET /healthz",
            "    http-check expect status 200",
            "    default-server check check-ssl verify none inter 1s fall 2 rise 2",
        ]
        for node in cluster.nodes {
            let address = node.addresses[0]
            let host = address.contains(":") ? "[\(address)]" : address
            lines.append("    server \(node.name) \(host):\(profile.apiserverPort)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
