import Pacemaker

/// The Kubernetes control-plane profile: what people build by hand with pcs for an HA API endpoint,
/// expanded to a typed resource graph.
///
/// - one IPaddr2 VIP per address, with a short monitor;
/// - haproxy as a clone on every controller (it binds the frontend port on all addresses, with
///   `net.ipv4.ip_nonlocal_bind=1`, so it never needs the VIP to be local first);
/// - kube-apiserver as a cloned group with `interleave`;
/// - kube-controller-manager + kube-scheduler as one single-active group (what podmaster did with leases);
/// - each VIP colocated with a running haproxy (score INFINITY), and ordered *after* haproxy with kind
///   Optional. The seed's `order start VIP then haproxy-clone kind=Optional` points the other way; with
///   haproxy first, moving a VIP never asks pacemaker to restart any haproxy, and a haproxy restart on one
///   node does not bounce VIPs held elsewhere;
/// - one fence device per node (never run on the node it fences);
/// - in a pair, a fence race that the node *without* the VIP wins: `priority-fencing-delay` delays fencing of
///   the node whose resources have the highest priority, and `pair-arbiter` (a Dummy with priority 10,
///   never on the VIP's node) gives that priority to the VIP's peer. A split then costs one VIP move, and the
///   death of the VIP's holder is fenced at once, whichever node holds it. (A `pcmk_delay_base` on one node
///   made the death of that node slow: 6.8-7.8 s against 1.7-2.5 s for the other, measured in the lab.)
/// - `resource-stickiness` so that a recovered node does not pull the VIP back;
/// - `transition-delay` 300ms: the DC schedules 300 ms after a node is lost, once its own CIB updates for
///   the loss are written. pacemaker-controld sleeps a whole second when it asks its scheduler while such
///   updates are pending ("Re-asking for the CIB"). They are pending for 200-250 ms whenever pacemaker sends
///   them before corosync has finished synchronising the new membership: the send gets CS_ERR_TRY_AGAIN and
///   pacemaker's CPG layer retries after 200 ms + 10 ms per queued message. Measured over 60 crash rounds:
///   every update sent before corosync's "Completed service synchronization" arrived 224-228 ms later, every
///   other one within 4-28 ms; with 200 ms, 5 rounds in 60 paid the second (max 3.46 s).
///
/// Each part can be turned off or given another agent.
package struct KubernetesControlPlaneProfile: Hashable, Sendable {
    /// A controller and the device that fences it.
    package struct Controller: Hashable, Sendable {
        /// The node name (as in corosync's nodelist).
        package var name: String
        /// The fence agent's parameters (ip, username, password or password_script, ...), if fenced.
        package var fence: FenceDevice?

        /// Creates a controller.
        package init(name: String, fence: FenceDevice? = nil) {
            self.name = name
            self.fence = fence
        }
    }

    /// A stonith device.
    package struct FenceDevice: Hashable, Sendable {
        /// The agent, e.g. `fence_redfish`.
        package var agent: String
        /// Its parameters. `pcmk_host_list` is added by the profile.
        package var parameters: [String: String]

        /// Creates a device.
        package init(agent: String = "fence_redfish", parameters: [String: String]) {
            self.agent = agent
            self.parameters = parameters
        }
    }

    /// A resource of the profile that the spec may give another agent, other parameters, or turn off.
    package struct Component: Hashable, Sendable {
        /// The primitive's id.
        package var id: String
        /// Its agent.
        package var agent: ResourceAgent
        /// Its instance attributes.
        package var parameters: [String: String]

        /// Creates a component.
        package init(id: String, agent: ResourceAgent, parameters: [String: String] = [:]) {
            self.id = id
            self.agent = agent
            self.parameters = parameters
        }
    }

    /// Which way the VIPs and haproxy are ordered.
    package enum VIPOrder: String, Hashable, Sendable, CaseIterable {
        /// `order start haproxy-clone then VIP kind=Optional` (khactl's default, see the type's notes).
        case haproxyFirst = "haproxy-first"
        /// `order start VIP then haproxy-clone kind=Optional`, the Red Hat layout of the seed documents.
        case vipFirst = "vip-first"
    }

    /// The floating addresses of the API endpoint (one or more).
    package var vips: [String]
    /// Their prefix length.
    package var cidr: Int = 24
    /// The controllers.
    package var controllers: [Controller]
    /// haproxy (`systemd:haproxy` where systemd runs, `lsb:haproxy` otherwise); nil leaves it out.
    package var haproxy: Component? = Component(id: "haproxy", agent: ResourceAgent(class: .systemd, type: "haproxy"))
    /// kube-apiserver; nil leaves the API server to something else (kubelet static pods).
    package var apiserver: Component? = Component(id: "kube-apiserver", agent: ResourceAgent(class: .systemd, type: "kube-apiserver"))
    /// The single-active group's members; empty leaves the group out.
    package var controlGroup: [Component] = [
        Component(id: "kube-controller-manager", agent: ResourceAgent(class: .systemd, type: "kube-controller-manager")),
        Component(id: "kube-scheduler", agent: ResourceAgent(class: .systemd, type: "kube-scheduler")),
    ]
    /// The order between haproxy and the VIPs.
    package var vipOrder = VIPOrder.haproxyFirst
    /// Monitor interval of the VIPs and haproxy.
    package var monitorInterval = "2s"
    /// `resource-stickiness` default.
    package var stickiness = "100"
    /// The `transition-delay` cluster property; empty leaves it out.
    package var transitionDelay = "300ms"
    /// `priority-fencing-delay` in a pair: how long the VIP's holder waits before fencing its peer when they
    /// split (the peer fences the holder at once). Far above a fence action's time (fence_redfish: 0.3-0.5 s).
    package var pairFenceDelay = "5s"
    /// The id of the arbiter of a pair's fence race (see the type's documentation).
    package var pairArbiterID = "pair-arbiter"

    /// Whether the cluster has a quorum device: the witness's vote settles a split, no fence race to arbitrate.
    package var quorumDevice = false

    /// Whether the profile settles a pair's fence race with the arbiter: two controllers, fenced, no quorum device.
    package var arbitratesPair: Bool { controllers.count == 2 && !quorumDevice && controllers.contains { $0.fence != nil } }
    /// haproxy's frontend port on the VIPs.
    package var frontendPort: UInt16 = 7443
    /// The API servers' port on each controller.
    package var apiserverPort: UInt16 = 6443

    /// Creates a profile.
    package init(vips: [String], controllers: [Controller]) {
        self.vips = vips
        self.controllers = controllers
    }

    /// The VIP resource ids: `vip` for one address, `vip-1`, `vip-2`, ... for several.
    package var vipIDs: [String] { vips.count == 1 ? ["vip"] : vips.indices.map { "vip-\($0 + 1)" } }

    private func primitive(_ component: Component, monitor: String?) -> Primitive {
        let parameters = component.parameters
        return Primitive(
            id: component.id, agent: component.agent,
            instanceAttributes: parameters.isEmpty
                ? [] : [AttributeSet(nvpairs: parameters.keys.sorted().map { NVPair(name: $0, value: parameters[$0]) })],
            operations: monitor.map { [Operation(name: "monitor", interval: $0)] } ?? [])
    }

    /// The resource graph.
    package func configuration() -> Configuration {
        var resources: [Resource] = []
        var constraints: [Constraint] = []

        for controller in controllers {
            guard let fence = controller.fence else { continue }
            var parameters = fence.parameters
            parameters["pcmk_host_list"] = controller.name
            let id = "fence-\(controller.name)"
            resources.append(.primitive(Primitive(
                id: id, agent: ResourceAgent(class: .stonith, type: fence.agent),
                instanceAttributes: [AttributeSet(nvpairs: parameters.keys.sorted().map { NVPair(name: $0, value: parameters[$0]) })],
                operations: [Operation(name: "monitor", interval: "60s")])))
            constraints.append(.location(LocationConstraint(resource: id, node: controller.name, score: "-INFINITY")))
        }

        if let haproxy {
            resources.append(.clone(Clone(
                id: "haproxy-clone", child: .primitive(primitive(haproxy, monitor: monitorInterval)),
                metaAttributes: [AttributeSet(["interleave": "true"])])))
        }
        for (id, address) in zip(vipIDs, vips) {
            resources.append(.primitive(Primitive(
                id: id, agent: ResourceAgent(class: .ocf, provider: "heartbeat", type: "IPaddr2"),
                instanceAttributes: [AttributeSet(["ip": address, "cidr_netmask": String(cidr)])],
                operations: [Operation(name: "monitor", interval: monitorInterval)])))
            guard haproxy != nil else { continue }
            constraints.append(.colocation(ColocationConstraint(resource: id, with: "haproxy-clone", score: "INFINITY")))
            let (first, then) = vipOrder == .haproxyFirst ? ("haproxy-clone", id) : (id, "haproxy-clone")
            constraints.append(.order(OrderConstraint(
                first: first, then: then, firstAction: "start", thenAction: "start", kind: .optional)))
        }
        if arbitratesPair, !vips.isEmpty {
            resources.append(.primitive(Primitive(
                id: pairArbiterID, agent: ResourceAgent(class: .ocf, provider: "pacemaker", type: "Dummy"),
                metaAttributes: [AttributeSet(["priority": "10"])],
                operations: [Operation(name: "monitor", interval: "60s")])))
            for id in vipIDs {
                constraints.append(.colocation(ColocationConstraint(resource: pairArbiterID, with: id, score: "-INFINITY")))
            }
        }
        if let apiserver {
            resources.append(.clone(Clone(
                id: "apiserver-clone",
                child: .group(Group(id: "apiserver", members: [.primitive(primitive(apiserver, monitor: "10s"))])),
                metaAttributes: [AttributeSet(["interleave": "true"])])))
        }
        if !controlGroup.isEmpty {
            resources.append(.group(Group(
                id: "control", members: controlGroup.map { .primitive(primitive($0, monitor: "10s")) })))
            if apiserver != nil {
                constraints.append(.order(OrderConstraint(
                    first: "apiserver-clone", then: "control", firstAction: "start", thenAction: "start", kind: .optional)))
            }
        }
        return Configuration(
            properties: [AttributeSet(nvpairs: clusterProperties)],
            resources: resources,
            constraints: constraints,
            resourceDefaults: [AttributeSet(["resource-stickiness": stickiness])])
    }

    private var clusterProperties: [NVPair] {
        let fenced = controllers.contains { $0.fence != nil }
        var pairs = [NVPair(name: "stonith-enabled", value: fenced ? "true" : "false")]
        if !transitionDelay.isEmpty { pairs.append(NVPair(name: "transition-delay", value: transitionDelay)) }
        if arbitratesPair, !vips.isEmpty { pairs.append(NVPair(name: "priority-fencing-delay", value: pairFenceDelay)) }
        return pairs
    }

    /// The line to run on the first controller once the cluster holds the VIP.
    package var kubeadmInit: String {
        "kubeadm init --control-plane-endpoint \(vips[0]):\(frontendPort) --upload-certs"
    }

}
