import Pacemaker
import KhactlCore
import ClusterExec
import Foundation

/// The resources of the resource-graph example (a floating IPaddr2 VIP and a cloned haproxy that
/// listens on every node), for drills before anything else is configured.
enum LabExample {
    /// The port haproxy listens on in the example (the Kubernetes profile's frontend port).
    static let port: UInt16 = 7443

    static func haproxyConfig() -> String {
        """
        # Written by khactl lab: the example's haproxy, listening on every address of the node.
        global
            maxconn 256
            log stdout format raw local0 emerg
        defaults
            mode tcp
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        frontend khactl-lab
            bind :\(port)
            default_backend apiservers
        backend apiservers
            server local 127.0.0.1:6443

        """
    }

    /// cibadmin `--create` sections: (object type, XML).
    static func cibObjects(vip: String) -> [(String, String)] {
        [
            ("resources", """
            <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
              <instance_attributes id="vip-instance_attributes">
                <nvpair id="vip-instance_attributes-cidr_netmask" name="cidr_netmask" value="\(LabNetwork.prefix)"/>
                <nvpair id="vip-instance_attributes-ip" name="ip" value="\(vip)"/>
              </instance_attributes>
              <operations>
                <op id="vip-monitor-interval-2s" name="monitor" interval="2s"/>
              </operations>
            </primitive>
            """),
            ("resources", """
            <clone id="haproxy-clone">
              <primitive id="haproxy" class="lsb" type="haproxy">
                <operations>
                  <op id="haproxy-monitor-interval-2s" name="monitor" interval="2s"/>
                </operations>
              </primitive>
              <meta_attributes id="haproxy-clone-meta_attributes">
                <nvpair id="haproxy-clone-meta_attributes-interleave" name="interleave" value="true"/>
              </meta_attributes>
            </clone>
            """),
            ("constraints", """
            <rsc_order id="order-vip-haproxy-clone-Optional" first="vip" first-action="start" then="haproxy-clone" then-action="start" kind="Optional"/>
            """),
            ("constraints", """
            <rsc_colocation id="colocation-vip-haproxy-clone-INFINITY" rsc="vip" with-rsc="haproxy-clone" score="INFINITY"/>
            """),
            ("configuration", """
            <rsc_defaults>
              <meta_attributes id="rsc_defaults-meta_attributes">
                <nvpair id="rsc_defaults-meta_attributes-resource-stickiness" name="resource-stickiness" value="100"/>
              </meta_attributes>
            </rsc_defaults>
            """),
        ]
    }
}

extension Lab {
    /// Installs the example's haproxy configuration on every node and its resources in the CIB, then
    /// waits until the VIP runs.
    package func installExample(vip: String = LabNetwork.defaultVIP, timeout: Duration = .seconds(60)) async throws {
        let state = try store.load()
        for node in state.nodes {
            let path = store.nodeFolder(node.index).appendingPathComponent("etc/haproxy/haproxy.cfg")
            try LabExample.haproxyConfig().write(to: path, atomically: true, encoding: .utf8)
        }
        guard let first = state.nodes.first(where: { $0.initProcess?.isAlive == true }) else { throw LabError("no node is powered on") }
        for (section, xml) in LabExample.cibObjects(vip: vip) {
            try await runner.check(try nodeCommand(first.index, ["cibadmin", "--create", "-o", section, "--xml-text", xml]))
        }
        try await waitForResource("vip", timeout: timeout)
    }

    /// Waits until `resource` is started on some node and returns that node.
    @discardableResult
    package func waitForResource(_ resource: String, notOn excluded: String? = nil, timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try? await clusterStatus(),
                let node = status.resources.first(where: { $0.id == resource && $0.active && $0.role == "Started" })?.nodes.first,
                node != excluded
            {
                return node
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw LabError("resource \(resource) did not start\(excluded.map { " away from \($0)" } ?? "") within \(timeout)")
    }
}
