import ClusterExec
import Foundation
import Pacemaker
import Yams

/// A composed YAML node.
typealias YAMLNode = Yams.Node

/// The `cluster:` section of a spec: the corosync cluster khactl bootstrap makes.
package struct ClusterSpec: Hashable, Sendable {
    /// A controller's fence device.
    package struct Fence: Hashable, Sendable {
        /// The fence agent (`fence_redfish`, `fence_ipmilan`, ...).
        package var agent: String
        /// The agent's parameters (ip, username, ssl_insecure, ...), in the spec's order.
        package var parameters: [NVPair]
        /// A file holding the password; the CIB gets `password_script=cat FILE`, never the password.
        package var passwordFile: String?
    }

    /// A controller.
    package struct Node: Hashable, Sendable {
        /// The node name (corosync's and pacemaker's).
        package var name: String
        /// corosync's node id (1, 2, ... in spec order unless given).
        package var nodeID: UInt32
        /// The addresses of its knet links.
        package var addresses: [String]
        /// How it is fenced.
        package var fence: Fence?
    }

    /// `totem.cluster_name`.
    package var name: String
    /// The controllers.
    package var nodes: [Node]
    /// `totem.token` in ms.
    package var token: Int
    /// `totem.consensus` in ms.
    package var consensus: Int
    /// Pacemaker's `dc-deadtime` for the first start (written into the first CIB), if set.
    package var dcDeadtime: String?
    /// A quorum device (corosync-qdevice talking to corosync-qnetd on a witness host), if any.
    package var quorumDevice: CorosyncConfig.QuorumDevice?
    /// The timing preset (`cluster.timing`).
    package var timing = Timing.standard

    /// khactl's default totem timings (see README, "Timings"): a lost controller is out of the membership
    /// about 1.1 s after it fails, where corosync's own default (token 3000 ms) takes 3.6 s.
    package static let defaultToken = 500
    package static let defaultConsensus = 600

    /// `cluster.timing`: how fast a lost controller is declared dead (Docs/benchmarks.md, "Timing presets").
    package enum Timing: String, Hashable, Sendable, CaseIterable {
        /// token 500 ms, consensus 600 ms, knet's own link heartbeat (a link is dead after 250 ms without a pong).
        case standard = "default"
        /// token 250 ms, consensus 300 ms: the lost controller is out of the membership about 0.5 s after it
        /// fails. knet's link heartbeat is set apart from the token (a pong every 125 ms, a link dead after 500 ms):
        /// with its default (half a token, 125 ms) one late pong declares a healthy link dead and costs a
        /// membership change; measured in the lab as one every 9 s. A node's death is still seen by the token.
        case fast

        /// The preset's `totem.token`, ms.
        package var token: Int { self == .fast ? 250 : ClusterSpec.defaultToken }
        /// The preset's `totem.consensus`, ms, for its own token.
        package var consensus: Int { self == .fast ? 300 : ClusterSpec.defaultConsensus }
        /// The preset's knet link heartbeat; nil is corosync's default.
        package var knetHeartbeat: CorosyncConfig.KnetHeartbeat? {
            self == .fast ? CorosyncConfig.KnetHeartbeat(interval: 125, timeout: 500) : nil
        }
    }

    /// The corosync configuration every node gets.
    package var corosyncConfig: CorosyncConfig {
        CorosyncConfig(
            clusterName: name,
            nodes: nodes.map { CorosyncConfig.Node(name: $0.name, nodeID: $0.nodeID, addresses: $0.addresses) },
            token: token, consensus: consensus, tokenCoefficient: 0, quorumDevice: quorumDevice, knetHeartbeat: timing.knetHeartbeat)
    }
}

/// A spec file with khactl's deployment sections: `cluster:` and `profile:` beside the resource graph.
package struct DeploymentSpec: Sendable {
    /// The resource graph: the spec's own objects plus the profile's, merged.
    package var spec: Spec
    /// The cluster section, if any.
    package var cluster: ClusterSpec?
    /// The Kubernetes control-plane profile, if any.
    package var profile: KubernetesControlPlaneProfile?

    static let sections: Set<String> = ["cluster", "profile"]

    /// Reads a spec file.
    /// - Throws: `SpecLoadError` with every located problem of the whole file.
    package static func load(path: String) throws -> DeploymentSpec {
        try parse(try SpecFile.readText(path), file: path)
    }

    /// Reads a spec from text.
    package static func parse(_ text: String, file: String = "<input>") throws -> DeploymentSpec {
        // One parse: the spec's sections and the composed document this reader reads `cluster` and `profile` from.
        var (spec, root) = try SpecFile.parseDocument(text, file: file, extraSections: sections)
        var reader = SectionReader(file: file)
        var cluster: ClusterSpec?
        var profile: KubernetesControlPlaneProfile?
        if let mapping = root?.mapping {
            var profileNode: YAMLNode?
            for (key, value) in mapping {
                switch key.scalar?.string {
                case "cluster": cluster = reader.cluster(value)
                case "profile": profileNode = value
                default: break
                }
            }
            if let profileNode {
                if let cluster {
                    profile = reader.profile(profileNode, cluster: cluster)
                } else {
                    reader.issue(profileNode, "profile", "a profile needs the cluster section (its nodes are the controllers)")
                }
            }
        }
        if !reader.issues.isEmpty { throw SpecLoadError(code: "structure", issues: reader.issues) }
        if let profile {
            spec.configuration = merge(profile: profile.configuration(), spec: spec.configuration).assigningIDs()
        }
        return DeploymentSpec(spec: spec, cluster: cluster, profile: profile)
    }

    /// The profile's objects first, then the spec's; a property or default the spec sets wins.
    static func merge(profile: Configuration, spec: Configuration) -> Configuration {
        var merged = spec
        merged.resources = profile.resources + spec.resources
        merged.constraints = profile.constraints + spec.constraints
        func mergeSets(_ base: [AttributeSet]?, _ over: [AttributeSet]?) -> [AttributeSet]? {
            guard let base, !base.isEmpty else { return over }
            guard let over, !over.isEmpty else { return base }
            var first = base[0]
            for pair in over[0].nvpairs {
                if let index = first.nvpairs.firstIndex(where: { $0.name == pair.name }) {
                    first.nvpairs[index].value = pair.value
                } else {
                    first.nvpairs.append(pair)
                }
            }
            return [first] + base.dropFirst() + over.dropFirst()
        }
        merged.properties = mergeSets(profile.properties, spec.properties) ?? []
        merged.resourceDefaults = mergeSets(profile.resourceDefaults, spec.resourceDefaults)
        merged.operationDefaults = mergeSets(profile.operationDefaults, spec.operationDefaults)
        return merged
    }
}

/// Reads the `cluster` and `profile` sections, collecting every problem with its position.
/// Reads the `cluster` and `profile` sections with Pacemaker's ``SpecReader`` (the one reader of spec YAML, its
/// messages and positions), adding what only these sections need (ranged integers, secret files).
struct SectionReader {
    var base: SpecReader

    init(file: String) { base = SpecReader(file: file) }

    var issues: [SpecIssue] { base.issues }

    mutating func issue(_ node: YAMLNode?, _ path: String, _ message: String) { base.issue(node, path, message) }

    mutating func entries(_ node: YAMLNode, _ path: String, allowed: [String]) -> [(String, YAMLNode)]? {
        base.mapping(node, path, allowed: Set(allowed))?.map { ($0.0, $0.2) }
    }

    mutating func string(_ node: YAMLNode, _ path: String) -> String? { base.string(node, path) }

    mutating func integer(_ node: YAMLNode, _ path: String, _ range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            issue(node, path, "expected a whole number from \(range.lowerBound) to \(range.upperBound), found '\(text)'")
            return nil
        }
        return value
    }

    mutating func strings(_ node: YAMLNode, _ path: String) -> [String] {
        if node.scalar != nil { return string(node, path).map { [$0] } ?? [] }
        guard let sequence = base.sequence(node, path) else { return [] }
        return sequence.enumerated().compactMap { string($1, "\(path)[\($0)]") }
    }

    static var namePattern: Regex<Substring> { /[A-Za-z0-9][A-Za-z0-9_.-]{0,62}/ }
    /// Why the secret file at `path` may not be used, or nil: it must be a regular file (no link) owned by root
    /// with mode 0600 or narrower, and not empty (/etc/shadow, a link to it, or a file others can read are refused:
    /// its content would be sent to a BMC).
    static func secretFileProblem(_ path: String) -> String? {
        do {
            let data = try SecureFile.readSecret(path)
            if data.allSatisfy({ $0 == 0x0a || $0 == 0x20 }) { return "the password file \(path) is empty" }
            return nil
        } catch let error as SecureFileError {
            return "the password file \(error)"
        } catch {
            return "the password file \(path) cannot be read: \(error)"
        }
    }

    static var safePathPattern: Regex<Substring> { /\/[A-Za-z0-9_.\/-]+/ }

    // MARK: - cluster

    mutating func cluster(_ node: YAMLNode) -> ClusterSpec? {
        guard let entries = entries(node, "cluster", allowed: ["name", "nodes", "totem", "timing", "dc-deadtime", "quorum-device"]) else { return nil }
        var quorumDevice: CorosyncConfig.QuorumDevice?
        var name: String?
        var nodes: [ClusterSpec.Node] = []
        var givenToken: Int?
        var consensus: Int?
        var timing = ClusterSpec.Timing.standard
        var dcDeadtime: String?
        var nodesNode: YAMLNode?
        for (key, value) in entries {
            switch key {
            case "name":
                if let text = string(value, "cluster.name") {
                    // Not starting with '-': the name reaches pcs and corosync's tools as an argument.
                    if text.wholeMatch(of: /[A-Za-z0-9_][A-Za-z0-9_-]{0,31}/) == nil {
                        issue(value, "cluster.name", "'\(text)' is not a cluster name (1-32 letters, digits, '-' or '_', not starting with '-')")
                    } else {
                        name = text
                    }
                }
            case "nodes":
                nodesNode = value
                guard let sequence = value.sequence else {
                    issue(value, "cluster.nodes", "expected a list")
                    continue
                }
                for (index, item) in sequence.enumerated() {
                    if let parsed = clusterNode(item, "cluster.nodes[\(index)]", position: index) { nodes.append(parsed) }
                }
            case "totem":
                guard let totem = self.entries(value, "cluster.totem", allowed: ["token", "consensus"]) else { continue }
                for (k, v) in totem {
                    if k == "token", let t = integer(v, "cluster.totem.token", 100...60_000) { givenToken = t }
                    if k == "consensus", let c = integer(v, "cluster.totem.consensus", 120...120_000) { consensus = c }
                }
            case "timing":
                if let text = string(value, "cluster.timing") {
                    if let preset = ClusterSpec.Timing(rawValue: text) {
                        timing = preset
                    } else {
                        let names = ClusterSpec.Timing.allCases.map(\.rawValue).joined(separator: " or ")
                        issue(value, "cluster.timing", "'\(text)' is not a timing preset (\(names))")
                    }
                }
            case "quorum-device":
                quorumDevice = self.quorumDevice(value)
            case "dc-deadtime":
                if let text = string(value, "cluster.dc-deadtime") {
                    if text.wholeMatch(of: /[0-9]{1,6}(ms|s|m|min|h)?/) == nil {
                        issue(value, "cluster.dc-deadtime", "'\(text)' is not a duration (e.g. 2s, 500ms, 1min)")
                    } else {
                        dcDeadtime = text
                    }
                }
            default:
                break
            }
        }
        if name == nil && !entries.contains(where: { $0.0 == "name" }) { issue(node, "cluster", "missing required key 'name'") }
        if nodesNode == nil { issue(node, "cluster", "missing required key 'nodes'") }
        if nodesNode != nil && nodes.isEmpty && nodesNode?.sequence?.isEmpty == true {
            issue(nodesNode, "cluster.nodes", "a cluster needs at least one node")
        }
        // totem.token and totem.consensus override the preset's; a token of its own gets 1.2 × token.
        let token = givenToken ?? timing.token
        let resolvedConsensus = consensus ?? (token == timing.token ? timing.consensus : token * 12 / 10)
        if resolvedConsensus * 10 < token * 12 {
            issue(node, "cluster.totem.consensus", "consensus \(resolvedConsensus) ms must be at least 1.2 × token (\(token * 12 / 10) ms), as corosync requires")
        }
        // Names, ids and addresses are unique across the cluster.
        var seenNames: [String: Int] = [:]
        var seenIDs: [UInt32: Int] = [:]
        var seenAddresses: [String: String] = [:]
        for (index, item) in nodes.enumerated() {
            let itemNode = nodesNode?.sequence?[index]
            if let first = seenNames[item.name] {
                issue(itemNode, "cluster.nodes[\(index)]", "node '\(item.name)' is listed twice (also cluster.nodes[\(first)])")
            }
            seenNames[item.name] = seenNames[item.name] ?? index
            if let first = seenIDs[item.nodeID], first != index {
                issue(itemNode, "cluster.nodes[\(index)]", "node id \(item.nodeID) is used twice (also cluster.nodes[\(first)])")
            }
            seenIDs[item.nodeID] = seenIDs[item.nodeID] ?? index
            for address in item.addresses {
                if let other = seenAddresses[address], other != item.name {
                    issue(itemNode, "cluster.nodes[\(index)].addresses", "address \(address) is also node '\(other)''s")
                }
                seenAddresses[address] = item.name
            }
        }
        guard let name, !nodes.isEmpty else { return nil }
        if let quorumDevice, nodes.flatMap(\.addresses).contains(quorumDevice.host) {
            issue(node, "cluster.quorum-device.host", "\(quorumDevice.host) is a node's address; the witness must be another host")
        }
        return ClusterSpec(
            name: name, nodes: nodes, token: token, consensus: resolvedConsensus, dcDeadtime: dcDeadtime, quorumDevice: quorumDevice,
            timing: timing)
    }

    /// `quorum-device: {host: ADDRESS, algorithm: ffsplit|lms, port: 5403}`.
    mutating func quorumDevice(_ node: YAMLNode) -> CorosyncConfig.QuorumDevice? {
        let path = "cluster.quorum-device"
        guard let entries = entries(node, path, allowed: ["host", "algorithm", "port", "timeout"]) else { return nil }
        var device = CorosyncConfig.QuorumDevice(host: "")
        for (key, value) in entries {
            switch key {
            case "host":
                if let text = string(value, "\(path).host") {
                    if IPAddress.parse(text) == nil && text.wholeMatch(of: Self.namePattern) == nil {
                        issue(value, "\(path).host", "'\(text)' is not an address or host name")
                    } else {
                        device.host = text
                    }
                }
            case "algorithm":
                if let text = string(value, "\(path).algorithm") {
                    if let algorithm = CorosyncConfig.QuorumDevice.Algorithm(rawValue: text) {
                        device.algorithm = algorithm
                    } else {
                        issue(value, "\(path).algorithm", "'\(text)' is not ffsplit or lms")
                    }
                }
            case "port":
                if let port = integer(value, "\(path).port", 1...65_535) { device.port = UInt16(port) }
            case "timeout":
                // qdevice's heartbeat to qnetd (0.8 of it) must stay at least 1000 ms, qnetd's minimum.
                if let timeout = integer(value, "\(path).timeout", 1250...120_000) {
                    device.timeout = timeout
                    device.syncTimeout = timeout
                }
            default:
                break
            }
        }
        if !entries.contains(where: { $0.0 == "host" }) { issue(node, path, "missing required key 'host'") }
        return device.host.isEmpty ? nil : device
    }

    mutating func clusterNode(_ node: YAMLNode, _ path: String, position: Int) -> ClusterSpec.Node? {
        guard let entries = entries(node, path, allowed: ["name", "addresses", "id", "fence"]) else { return nil }
        var name: String?
        var addresses: [String] = []
        var nodeID = UInt32(position + 1)
        var fence: ClusterSpec.Fence?
        for (key, value) in entries {
            switch key {
            case "name":
                if let text = string(value, "\(path).name") {
                    if text.wholeMatch(of: Self.namePattern) == nil {
                        issue(value, "\(path).name", "'\(text)' is not a node name")
                    } else {
                        name = text
                    }
                }
            case "addresses":
                for (index, text) in strings(value, "\(path).addresses").enumerated() {
                    if IPAddress.parse(text) == nil {
                        issue(value, "\(path).addresses[\(index)]", "'\(text)' is not an IP address")
                    } else {
                        addresses.append(text)
                    }
                }
            case "id":
                if let id = integer(value, "\(path).id", 1...65_535) { nodeID = UInt32(id) }
            case "fence":
                fence = self.fence(value, "\(path).fence")
            default:
                break
            }
        }
        if !entries.contains(where: { $0.0 == "name" }) { issue(node, path, "missing required key 'name'") }
        if !entries.contains(where: { $0.0 == "addresses" }) { issue(node, path, "missing required key 'addresses'") }
        guard let name, !addresses.isEmpty else { return nil }
        return ClusterSpec.Node(name: name, nodeID: nodeID, addresses: addresses, fence: fence)
    }

    mutating func fence(_ node: YAMLNode, _ path: String) -> ClusterSpec.Fence? {
        guard let mapping = node.mapping else {
            issue(node, path, "expected a mapping")
            return nil
        }
        var agent: String?
        var parameters: [NVPair] = []
        var passwordFile: String?
        for (key, value) in mapping {
            guard let name = key.scalar?.string, let text = string(value, "\(path).\(key.scalar?.string ?? "?")") else { continue }
            switch name {
            case "agent":
                if text.wholeMatch(of: /fence_[A-Za-z0-9_]+/) == nil {
                    issue(value, "\(path).agent", "'\(text)' is not a fence agent name (fence_...)")
                } else {
                    agent = text
                }
            case "password-file":
                if text.wholeMatch(of: Self.safePathPattern) == nil {
                    issue(value, "\(path).password-file", "'\(text)' must be an absolute path of letters, digits and / . _ -")
                } else if !FileManager.default.fileExists(atPath: text) {
                    issue(value, "\(path).password-file", "the password file \(text) does not exist or cannot be read")
                } else if let refusal = Self.secretFileProblem(text) {
                    issue(value, "\(path).password-file", refusal)
                } else {
                    passwordFile = text
                }
            case "password", "passwd":
                issue(value, "\(path).\(name)", "put the password in a file and name it with password-file (the spec and the CIB never hold it)")
            case "pcmk_host_list", "password_script":
                issue(value, "\(path).\(name)", "\(name) is set by khactl")
            default:
                parameters.append(NVPair(name: name, value: text))
            }
        }
        guard let agent else {
            if !mapping.keys.contains(where: { $0.scalar?.string == "agent" }) { issue(node, path, "missing required key 'agent'") }
            return nil
        }
        return ClusterSpec.Fence(agent: agent, parameters: parameters, passwordFile: passwordFile)
    }

    // MARK: - profile

    mutating func profile(_ node: YAMLNode, cluster: ClusterSpec) -> KubernetesControlPlaneProfile? {
        guard let entries = entries(node, "profile", allowed: ["kubernetes-control-plane"]), let (_, body) = entries.first else {
            return nil
        }
        let path = "profile.kubernetes-control-plane"
        guard
            let fields = self.entries(
                body, path,
                allowed: [
                    "vips", "cidr", "frontend-port", "apiserver-port", "haproxy", "apiserver", "control-group", "vip-order",
                    "monitor-interval", "stickiness", "pair-fence-delay", "transition-delay",
                ])
        else { return nil }
        let controllers = cluster.nodes.map { node -> KubernetesControlPlaneProfile.Controller in
            guard let fence = node.fence else { return .init(name: node.name) }
            var parameters: [String: String] = [:]
            for pair in fence.parameters { parameters[pair.name] = pair.value ?? "" }
            if let file = fence.passwordFile { parameters["password_script"] = "cat \(file)" }
            return .init(name: node.name, fence: .init(agent: fence.agent, parameters: parameters))
        }
        var profile = KubernetesControlPlaneProfile(vips: [], controllers: controllers)
        profile.quorumDevice = cluster.quorumDevice != nil
        var vipsNode: YAMLNode?
        for (key, value) in fields {
            let at = "\(path).\(key)"
            switch key {
            case "vips":
                vipsNode = value
                profile.vips = strings(value, at)
            case "cidr": if let v = integer(value, at, 1...128) { profile.cidr = v }
            case "frontend-port": if let v = integer(value, at, 1...65_535) { profile.frontendPort = UInt16(v) }
            case "apiserver-port": if let v = integer(value, at, 1...65_535) { profile.apiserverPort = UInt16(v) }
            case "haproxy": profile.haproxy = component(value, at, current: profile.haproxy)
            case "apiserver": profile.apiserver = component(value, at, current: profile.apiserver)
            case "control-group":
                if value.scalar?.string == "false" {
                    profile.controlGroup = []
                } else if let sequence = value.sequence {
                    profile.controlGroup = sequence.enumerated().compactMap { index, item in
                        let itemPath = "\(at)[\(index)]"
                        guard let id = item.mapping?["id"].flatMap({ string($0, "\(itemPath).id") }) else {
                            issue(item, itemPath, "missing required key 'id'")
                            return nil
                        }
                        return component(item, itemPath, current: nil, id: id)
                    }
                } else {
                    issue(value, at, "expected false or a list of {id, agent, params}")
                }
            case "vip-order":
                if let text = string(value, at) {
                    if let order = KubernetesControlPlaneProfile.VIPOrder(rawValue: text) {
                        profile.vipOrder = order
                    } else {
                        issue(value, at, "expected haproxy-first or vip-first, found '\(text)'")
                    }
                }
            case "monitor-interval": if let v = string(value, at) { profile.monitorInterval = v }
            case "stickiness": if let v = string(value, at) { profile.stickiness = v }
            case "pair-fence-delay": if let v = string(value, at) { profile.pairFenceDelay = v }
            case "transition-delay": if let v = string(value, at) { profile.transitionDelay = v }
            default: break
            }
        }
        // The VIPs: well-formed, distinct, in no node's way.
        let nodeAddresses = Dictionary(cluster.nodes.flatMap { node in node.addresses.map { ($0, node.name) } }) { a, _ in a }
        if vipsNode == nil { issue(body, path, "missing required key 'vips'") }
        if vipsNode != nil && profile.vips.isEmpty { issue(vipsNode, "\(path).vips", "at least one VIP is needed") }
        var seen: Set<String> = []
        for (index, vip) in profile.vips.enumerated() {
            let at = "\(path).vips[\(index)]"
            guard let address = IPAddress.parse(vip) else {
                issue(vipsNode, at, "'\(vip)' is not an IP address")
                continue
            }
            if !seen.insert(address.canonical).inserted { issue(vipsNode, at, "VIP \(vip) is listed twice") }
            if let owner = nodeAddresses[vip] { issue(vipsNode, at, "VIP \(vip) is node '\(owner)''s address") }
            let bits = address.isIPv6 ? 128 : 32
            if profile.cidr > bits { issue(vipsNode, "\(path).cidr", "cidr \(profile.cidr) is longer than an address (\(bits) bits)") }
            if !address.isIPv6, profile.cidr <= 30, let host = address.hostPart(prefix: profile.cidr), host == 0 || host == (1 << (32 - profile.cidr)) - 1 {
                issue(vipsNode, at, "VIP \(vip) is the network or broadcast address of its /\(profile.cidr)")
            }
        }
        return profile
    }

    /// `false`, or `{agent, params}` over a component's defaults.
    mutating func component(
        _ node: YAMLNode, _ path: String, current: KubernetesControlPlaneProfile.Component?, id: String? = nil
    ) -> KubernetesControlPlaneProfile.Component? {
        if node.scalar?.string == "false" { return nil }
        guard let entries = entries(node, path, allowed: ["id", "agent", "params"]) else { return current }
        var result = current ?? KubernetesControlPlaneProfile.Component(id: id ?? "", agent: ResourceAgent(class: .ocf, provider: "pacemaker", type: "Dummy"))
        if let id { result.id = id }
        var hasAgent = current != nil
        for (key, value) in entries {
            switch key {
            case "agent":
                if let text = string(value, "\(path).agent") {
                    if let agent = ResourceAgent(parsing: text) {
                        result.agent = agent
                        hasAgent = true
                    } else {
                        issue(value, "\(path).agent", "'\(text)' is not an agent (class:type or ocf:provider:type)")
                    }
                }
            case "params":
                guard let mapping = value.mapping else {
                    issue(value, "\(path).params", "expected a mapping")
                    continue
                }
                for (k, v) in mapping {
                    if let name = k.scalar?.string, let text = string(v, "\(path).params.\(name)") { result.parameters[name] = text }
                }
            default:
                break
            }
        }
        if !hasAgent { issue(node, path, "missing required key 'agent'") }
        return result
    }
}

/// An IPv4 or IPv6 address, parsed with inet_pton.
struct IPAddress {
    let bytes: [UInt8]
    var isIPv6: Bool { bytes.count == 16 }

    static func parse(_ text: String) -> IPAddress? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return IPAddress(bytes: withUnsafeBytes(of: v4) { Array($0) })
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return IPAddress(bytes: withUnsafeBytes(of: v6) { Array($0) })
        }
        return nil
    }

    var canonical: String { bytes.map(String.init).joined(separator: ".") }

    /// The host part of an IPv4 address under `prefix`.
    func hostPart(prefix: Int) -> UInt32? {
        guard bytes.count == 4 else { return nil }
        let value = bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        return value & ~mask
    }
}
