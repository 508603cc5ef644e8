import Foundation
import Testing

@testable import Pacemaker

/// One invalid spec and the exact messages khactl must give for it.
struct BadSpec: CustomTestStringConvertible, Sendable {
    let name: String
    let yaml: String
    let expected: [String]
    var testDescription: String { name }
}

/// Every problem reported for a spec text: load errors if it does not load, validation problems otherwise.
func messages(for yaml: String) -> [String] {
    do {
        let spec = try SpecFile.parse(yaml, file: "bad.yaml")
        return Validator.validate(spec).map(\.description)
    } catch let error as SpecLoadError {
        return error.issues.map(\.description)
    } catch {
        return ["unexpected error: \(error)"]
    }
}

let vipHeader = """
    resources:
      - {id: d1, agent: "ocf:heartbeat:Dummy"}
      - {id: d2, agent: "ocf:heartbeat:Dummy"}
    """

let badSpecs: [BadSpec] = [
    // Structure: located at file:line:column with the offending key.
    BadSpec(
        name: "unknown top-level key", yaml: "resource: []\n",
        expected: [
            "bad.yaml:1:1: resource: unknown key 'resource' (expected one of: alerts, constraints, defaults, fencing-topology, nodes, properties, resources, xml)"
        ]),
    BadSpec(
        name: "top level is a list", yaml: "- a\n- b\n",
        expected: ["bad.yaml:1:1: (top level): expected a mapping, found a list"]),
    BadSpec(
        name: "YAML syntax error", yaml: "resources: [\n",
        expected: ["bad.yaml:2:1: (top level): YAML syntax error: did not find expected node content"]),
    BadSpec(
        name: "duplicate key", yaml: "properties: {a: \"1\", a: \"2\"}\n",
        expected: ["bad.yaml:1:14: (top level): duplicate key 'a'"]),
    BadSpec(
        name: "resources is a mapping", yaml: "resources: {id: x}\n",
        expected: ["bad.yaml:1:12: resources: expected a list, found a mapping"]),
    BadSpec(
        name: "resource without agent", yaml: "resources:\n  - id: x\n",
        expected: ["bad.yaml:2:5: resources[0]: missing required key 'agent'"]),
    BadSpec(
        name: "resource without id", yaml: "resources:\n  - agent: ocf:heartbeat:Dummy\n",
        expected: ["bad.yaml:2:5: resources[0]: missing required key 'id'"]),
    BadSpec(
        name: "misspelt resource key", yaml: "resources:\n  - {id: x, agent: \"lsb:x\", parms: {a: b}}\n",
        expected: [
            "bad.yaml:2:29: resources[0].parms: unknown key 'parms' (expected one of: agent, clone, default-monitor, description, id, meta, operations, operations-id, params, utilization)"
        ]),
    BadSpec(
        name: "ocf agent without provider", yaml: "resources:\n  - {id: x, agent: \"ocf:Dummy\"}\n",
        expected: [
            "bad.yaml:2:20: resources[0].agent: 'ocf:Dummy' is not an agent (expected standard:provider:type for ocf, standard:type otherwise)"
        ]),
    BadSpec(
        name: "bare agent name", yaml: "resources:\n  - {id: x, agent: Dummy}\n",
        expected: [
            "bad.yaml:2:20: resources[0].agent: 'Dummy' is not an agent (expected standard:provider:type for ocf, standard:type otherwise)"
        ]),
    BadSpec(
        // A list is several attribute sets; each must be a mapping.
        name: "params is a list of scalars", yaml: "resources:\n  - {id: x, agent: \"lsb:x\", params: [a]}\n",
        expected: ["bad.yaml:2:38: resources[0].params[0]: expected a mapping, found a scalar"]),
    BadSpec(
        name: "param without value", yaml: "resources:\n  - id: x\n    agent: lsb:x\n    params:\n      a:\n",
        expected: ["bad.yaml:5:9: resources[0].params.a: has no value"]),
    BadSpec(
        name: "operation without name",
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\", operations: [{interval: 5s}]}\n",
        expected: ["bad.yaml:2:42: resources[0].operations[0]: missing required key 'name'"]),
    BadSpec(
        name: "unknown operation key",
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\", operations: [{name: monitor, intervall: 5s}]}\n",
        expected: [
            "bad.yaml:2:58: resources[0].operations[0].intervall: unknown key 'intervall' (expected one of: description, enabled, id, interval, interval-origin, name, on-fail, record-pending, role, start-delay, timeout)"
        ]),
    BadSpec(
        name: "group without resources", yaml: "resources:\n  - group: g\n",
        expected: ["bad.yaml:2:5: resources[0]: missing required key 'resources'"]),
    BadSpec(
        name: "constraint with two kinds",
        yaml: "constraints:\n  - {order: {first: a, then: b}, colocation: {resource: a, with: b}}\n",
        expected: [
            "bad.yaml:2:5: constraints[0]: a constraint is a mapping with exactly one of the keys order, colocation, location"
        ]),
    BadSpec(
        name: "unknown constraint kind", yaml: "constraints:\n  - {ordering: {first: a, then: b}}\n",
        expected: [
            "bad.yaml:2:6: constraints[0].ordering: unknown key 'ordering' (expected one of: colocation, location, order)"
        ]),
    BadSpec(
        name: "order without then", yaml: "constraints:\n  - order: {first: a}\n",
        expected: ["bad.yaml:2:12: constraints[0].order: missing required key 'then'"]),
    BadSpec(
        name: "order kind misspelt",
        yaml: vipHeader + "\nconstraints:\n  - order: {first: d1, then: d2, kind: optional}\n",
        expected: [
            "bad.yaml:5:40: constraints[0].order.kind: 'optional' is not an order kind (expected Mandatory, Optional or Serialize)"
        ]),
    BadSpec(
        name: "location without node or rules", yaml: vipHeader + "\nconstraints:\n  - location: {resource: d1}\n",
        expected: ["bad.yaml:5:15: constraints[0].location: missing required key 'node'"]),
    BadSpec(
        name: "rule without expressions",
        yaml: vipHeader + "\nconstraints:\n  - location: {resource: d1, rules: [{score: \"5\"}]}\n",
        expected: ["bad.yaml:5:38: constraints[0].location.rules[0]: missing required key 'expressions'"]),
    BadSpec(
        name: "alert without path", yaml: "alerts:\n  - {id: a}\n",
        expected: ["bad.yaml:2:5: alerts[0]: missing required key 'path'"]),
    BadSpec(
        name: "node without name", yaml: "nodes:\n  - {id: \"1\"}\n",
        expected: ["bad.yaml:2:5: nodes[0]: missing required key 'name'"]),
    BadSpec(
        name: "defaults for something else", yaml: "defaults:\n  resource: {a: b}\n",
        expected: [
            "bad.yaml:2:3: defaults.resource: unknown key 'resource' (expected one of: operations, resources)"
        ]),
    // Validation: each names the object, with its position in the spec.
    BadSpec(
        name: "duplicate resource id",
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\"}\n  - {id: x, agent: \"lsb:y\"}\n",
        expected: [
            "bad.yaml:3:5: primitive 'x': id 'x' is already used by primitive 'x'"
        ]),
    BadSpec(
        name: "id with a space", yaml: "resources:\n  - {id: \"my vip\", agent: \"lsb:x\"}\n",
        expected: [
            "bad.yaml:2:5: primitive 'my vip': 'my vip' is not a valid id (start with a letter or '_', then letters, digits, '_', '-', '.')"
        ]),
    BadSpec(
        name: "operation key in the wrong case",
        yaml: "resources:\n  - {id: 1vip, agent: \"lsb:x\", operations: [{name: monitor, interval: 5s, ID: m1}]}\n",
        expected: [
            "bad.yaml:2:75: resources[0].operations[0].ID: unknown key 'ID' (expected one of: description, enabled, id, interval, interval-origin, name, on-fail, record-pending, role, start-delay, timeout)"
        ]),
    BadSpec(
        name: "id starting with a digit (validation)",
        yaml: "resources:\n  - {id: 1vip, agent: \"lsb:x\", operations: [{name: monitor, interval: 5s}]}\n",
        expected: [
            "bad.yaml:2:5: primitive '1vip': '1vip' is not a valid id (start with a letter or '_', then letters, digits, '_', '-', '.')"
        ]),
    BadSpec(
        name: "id with a newline",
        yaml: "resources:\n  - {id: \"a\\nb\", agent: \"lsb:x\", operations: [{name: monitor, interval: 5s}]}\n",
        expected: ["bad.yaml:2:5: primitive 'a\nb': id contains the control character U+000A"]),
    BadSpec(
        name: "value with a control character",
        yaml:
            "resources:\n  - {id: x, agent: \"lsb:x\", params: {a: \"b\\u0007\"}, operations: [{name: monitor, interval: 5s}]}\n",
        expected: ["bad.yaml:2:5: primitive 'x': instance_attributes 'a' contains the control character U+0007"]),
    BadSpec(
        name: "id too long",
        yaml:
            "resources:\n  - {id: \(String(repeating: "a", count: 256)), agent: \"lsb:x\", operations: [{name: monitor, interval: 5s}]}\n",
        expected: [
            "bad.yaml:2:5: primitive '\(String(repeating: "a", count: 256))': id is 256 characters long (at most 255)"
        ]),
    BadSpec(
        name: "order to a missing resource", yaml: vipHeader + "\nconstraints:\n  - order: {first: d1, then: d3}\n",
        expected: ["bad.yaml:5:5: rsc_order 'order-d1-d3-mandatory': then 'd3' is not a resource"]),
    BadSpec(
        name: "colocation with a missing resource",
        yaml: vipHeader + "\nconstraints:\n  - colocation: {resource: dx, with: d2}\n",
        expected: ["bad.yaml:5:5: rsc_colocation 'colocation-dx-d2-INFINITY': resource 'dx' is not a resource"]),
    BadSpec(
        name: "location on a missing resource",
        yaml: vipHeader + "\nconstraints:\n  - location: {resource: vip, node: n1}\n",
        expected: ["bad.yaml:5:5: rsc_location 'location-vip-n1-INFINITY': resource 'vip' is not a resource"]),
    BadSpec(
        name: "resource set with a missing resource",
        yaml: vipHeader + "\nconstraints:\n  - order: {sets: [{resources: [d1, d9]}]}\n",
        expected: ["bad.yaml:5:5: rsc_order 'order_set_d1_d9': resource set member 'd9' is not a resource"]),
    BadSpec(
        name: "resource in two groups",
        yaml: vipHeader + "\n  - {group: g1, resources: [d1]}\n  - {group: g2, resources: [d1]}\n",
        expected: [
            "bad.yaml:5:29: primitive 'd1': is a member of both group 'g1' and group 'g2'",
            "bad.yaml:5:5: group 'g2': has no members",
        ]),
    BadSpec(
        name: "group member that does not exist", yaml: vipHeader + "\n  - {group: g1, resources: [d7]}\n",
        expected: [
            "bad.yaml:4:29: group 'g1': refers to resource 'd7', which is not defined at the top level",
            "bad.yaml:4:5: group 'g1': has no members",
        ]),
    BadSpec(
        name: "clone of a clone",
        yaml:
            "resources:\n  - clone: outer\n    resource: {id: x, agent: \"lsb:x\", operations: [{name: monitor, interval: 5s}], clone: {}}\n",
        expected: [
            "bad.yaml:2:5: clone 'outer': clones clone 'x-clone' (a clone holds a primitive or a group)",
            "bad.yaml:3:91: clone 'x-clone': is inside clone 'outer'",
        ]),
    BadSpec(
        name: "mandatory order cycle",
        yaml: vipHeader + "\nconstraints:\n  - order: {first: d1, then: d2}\n  - order: {first: d2, then: d1}\n",
        expected: [
            "bad.yaml:6:5: rsc_order 'order-d2-d1-mandatory': mandatory orders form a cycle: start d1 -> start d2 -> start d1 (constraints order-d1-d2-mandatory, order-d2-d1-mandatory)"
        ]),
    BadSpec(
        name: "score that is not a score",
        yaml: vipHeader + "\nconstraints:\n  - colocation: {resource: d1, with: d2, score: lots}\n",
        expected: [
            "bad.yaml:5:5: rsc_colocation 'colocation-d1-d2-lots': score 'lots' is not a score (an integer, INFINITY, +INFINITY or -INFINITY)"
        ]),
    BadSpec(
        name: "infinity in lower case",
        yaml: vipHeader + "\nconstraints:\n  - location: {resource: d1, node: n1, score: infinity}\n",
        expected: [
            "bad.yaml:5:5: rsc_location 'location-d1-n1-infinity': score 'infinity' is not a score (an integer, INFINITY, +INFINITY or -INFINITY)"
        ]),
    BadSpec(
        name: "interval that is not a duration",
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\", operations: [{name: monitor, interval: often}]}\n",
        expected: [
            "bad.yaml:2:42: op 'x-monitor-interval-often': interval 'often' is not a duration (like 10s, 1m, 500ms or PT10S)"
        ]),
    BadSpec(
        name: "timeout with an unknown unit",
        yaml:
            "resources:\n  - {id: x, agent: \"lsb:x\", operations: [{name: monitor, interval: 5s, timeout: 5 days}]}\n",
        expected: [
            "bad.yaml:2:42: op 'x-monitor-interval-5s': timeout '5 days' is not a duration (like 10s, 1m, 500ms or PT10S)"
        ]),
    BadSpec(
        name: "bad ISO 8601 duration",
        // A number without its designator (Pacemaker refuses it too; a bare `PT` is zero to Pacemaker).
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\", operations: [{name: monitor, interval: PT10}]}\n",
        expected: [
            "bad.yaml:2:42: op 'x-monitor-interval-PT10': interval 'PT10' is not a duration (like 10s, 1m, 500ms or PT10S)"
        ]),
    BadSpec(
        name: "op defaults timeout", yaml: "defaults:\n  operations: {timeout: soon}\n",
        expected: ["bad.yaml:2:15: op_defaults: timeout 'soon' is not a duration (like 10s, 1m, 500ms or PT10S)"]),
    BadSpec(
        name: "IPaddr2 with a bad address",
        yaml:
            "resources:\n  - {id: vip, agent: \"ocf:heartbeat:IPaddr2\", params: {ip: 198.18.0.300, cidr_netmask: \"24\"}}\n",
        expected: ["bad.yaml:2:5: primitive 'vip': parameter ip '198.18.0.300' is not an IPv4 or IPv6 address"]),
    BadSpec(
        name: "IPaddr2 with a prefix too long",
        yaml:
            "resources:\n  - {id: vip, agent: \"ocf:heartbeat:IPaddr2\", params: {ip: 198.18.0.1, cidr_netmask: \"33\"}}\n",
        expected: ["bad.yaml:2:5: primitive 'vip': parameter cidr_netmask '33' is not a prefix length (0 to 32)"]),
    BadSpec(
        name: "IPaddr2 with a dotted netmask",
        yaml:
            "resources:\n  - {id: vip, agent: \"ocf:heartbeat:IPaddr2\", params: {ip: 198.18.0.1, cidr_netmask: 255.255.255.0}}\n",
        expected: [
            "bad.yaml:2:5: primitive 'vip': parameter cidr_netmask '255.255.255.0' is not a prefix length (0 to 32)"
        ]),
    BadSpec(
        name: "IPv6 prefix too long",
        yaml:
            "resources:\n  - {id: vip, agent: \"ocf:heartbeat:IPaddr2\", params: {ip: \"2001:db8::1\", cidr_netmask: \"129\"}}\n",
        expected: ["bad.yaml:2:5: primitive 'vip': parameter cidr_netmask '129' is not a prefix length (0 to 128)"]),
    BadSpec(
        name: "IPaddr2 without ip", yaml: "resources:\n  - {id: vip, agent: \"ocf:heartbeat:IPaddr2\"}\n",
        expected: ["bad.yaml:2:5: primitive 'vip': parameter 'ip' is required by ocf:heartbeat:IPaddr2 (it will fail to start)"]),
    BadSpec(
        name: "interleave on a primitive",
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\", meta: {interleave: \"true\"}}\n",
        expected: [
            "bad.yaml:2:5: primitive 'x': meta attribute 'interleave' has no effect here: it only means something on a clone"
        ]),
    BadSpec(
        name: "clone-max on a cloned primitive",
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\", meta: {clone-max: \"2\"}, clone: {}}\n",
        expected: [
            "bad.yaml:2:5: primitive 'x': meta attribute 'clone-max' has no effect here: set it on clone 'x-clone' instead"
        ]),
    BadSpec(
        name: "misspelt clone option (a warning)", yaml: "resources:\n  - {id: x, agent: \"lsb:x\", clone: {interleve: \"true\"}}\n",
        expected: ["bad.yaml:2:36: clone 'x-clone': meta attribute 'interleve' is not one Pacemaker reads (a typo?)"]),
    BadSpec(
        name: "notify on a group",
        yaml:
            "resources:\n  - {group: g, meta: {ordered: \"false\", notify: \"true\"}, resources: [{id: x, agent: \"lsb:x\"}]}\n",
        expected: [
            "bad.yaml:2:5: group 'g': meta attribute 'notify' has no effect here: it only means something on a clone"
        ]),
    BadSpec(
        name: "clone meta that is not a boolean",
        yaml: "resources:\n  - {id: x, agent: \"lsb:x\", clone: {interleave: maybe}}\n",
        expected: ["bad.yaml:2:36: clone 'x-clone': meta attribute interleave 'maybe' is not a boolean"]),
    BadSpec(
        name: "unknown agent class", yaml: "resources:\n  - {id: x, agent: \"upstartx:x\"}\n",
        expected: [
            "bad.yaml:2:5: primitive 'x': agent class 'upstartx' is not one of ocf, systemd, lsb, service, stonith"
        ]),
    BadSpec(
        name: "role misspelt",
        yaml: vipHeader + "\nconstraints:\n  - colocation: {resource: d1, with: d2, resource-role: Master2}\n",
        expected: [
            "bad.yaml:5:5: rsc_colocation 'colocation-d1-d2-INFINITY': resource role 'Master2' is not a role (Started, Stopped, Promoted, Unpromoted)"
        ]),
    BadSpec(
        name: "fencing level with an unknown device",
        yaml: "fencing-topology:\n  - {target: n1, index: \"1\", devices: [f1]}\n",
        expected: ["bad.yaml:2:5: fencing-level 'fl-n1-1': device 'f1' is not a stonith resource"]),
    BadSpec(
        name: "alert select kind", yaml: "alerts:\n  - {path: /bin/true, select: [nodes, everything]}\n",
        expected: [
            "bad.yaml:2:5: alert 'alert': select 'everything' is not one of nodes, fencing, resources, attributes"
        ]),
    BadSpec(
        name: "colocation with itself", yaml: vipHeader + "\nconstraints:\n  - colocation: {resource: d1, with: d1}\n",
        expected: ["bad.yaml:5:5: rsc_colocation 'colocation-d1-d1-INFINITY': colocates 'd1' with itself"]),
]

@Suite("Bad input: invalid specs and their exact messages")
struct BadSpecTests {
    @Test("the table holds at least 40 invalid specs")
    func tableSize() { #expect(badSpecs.count >= 40) }

    @Test("each invalid spec gives exactly the expected messages", arguments: badSpecs)
    func badSpec(_ bad: BadSpec) {
        #expect(messages(for: bad.yaml) == bad.expected)
    }
}
