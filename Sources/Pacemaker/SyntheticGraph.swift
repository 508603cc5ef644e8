/// Synthetic graphs for the benchmark (`khactl-bench`) and the size tests.
public enum SyntheticGraph {
    /// A generated resource graph of about `resources` resources: every tenth is a clone, groups of four, a VIP per
    /// group, with orders and colocations chaining them, as a big control plane would have.
    public static func generate(resources: Int) -> Configuration {
        var config = Configuration(properties: [AttributeSet(["stonith-enabled": "false"])])
        var count = 0
        var previous: String?
        var g = 0
        while count < resources {
            let group = "g\(g)"
            let members: [Resource] = (0..<4).map { i in
                .primitive(
                    Primitive(
                        id: "\(group)-svc\(i)", agent: ResourceAgent(class: .systemd, type: "svc\(i)"),
                        metaAttributes: [AttributeSet(["resource-stickiness": "100"])],
                        operations: [Operation(name: "monitor", interval: "10s", timeout: "20s")]))
            }
            let groupResource = Resource.group(Group(id: group, members: members))
            let top: Resource
            if g % 10 == 0 {
                top = .clone(
                    Clone(
                        id: "\(group)-clone", child: groupResource, metaAttributes: [AttributeSet(["interleave": "true"])]))
            } else {
                top = groupResource
            }
            let vip = "\(group)-vip"
            config.resources.append(
                .primitive(
                    Primitive(
                        id: vip, agent: ResourceAgent(class: .ocf, provider: "heartbeat", type: "IPaddr2"),
                        instanceAttributes: [
                            AttributeSet(["ip": "198.18.\(g / 250 % 256).\(g % 250 + 1)", "cidr_netmask": "32"])
                        ],
                        operations: [Operation(name: "monitor", interval: "2s")])))
            config.resources.append(top)
            let topID = top.id ?? group
            config.constraints.append(
                .order(OrderConstraint(first: vip, then: topID, firstAction: "start", thenAction: "start", kind: .optional))
            )
            config.constraints.append(.colocation(ColocationConstraint(resource: vip, with: topID, score: "INFINITY")))
            if let previous {
                config.constraints.append(
                    .order(OrderConstraint(first: previous, then: topID, firstAction: "start", thenAction: "start")))
            }
            config.constraints.append(.location(LocationConstraint(resource: vip, node: "node\(g % 3 + 1)", score: "100")))
            previous = topID
            count += 6 + (g % 10 == 0 ? 1 : 0)
            g += 1
        }
        return config
    }

}
