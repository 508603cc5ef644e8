import Foundation
import KhactlCore
import Pacemaker
import Testing
import TestSupport

/// The Kubernetes control-plane profile expands to a graph that khactl's validator and Pacemaker's own
/// crm_verify accept, with pcs's ids.
@Suite("Kubernetes control-plane profile")
struct KubernetesProfileTests {
    static func redfish(_ index: Int) -> KubernetesControlPlaneProfile.FenceDevice {
        .init(parameters: ["ip": "198.18.0.21\(index)", "username": "admin", "password": "secret", "ssl_insecure": "1"])
    }

    static func crmVerify(_ xml: String) throws -> (Int32, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-profile-\(UUID().uuidString).xml").path
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/crm_verify")
        process.arguments = ["-x", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test("A pair with one VIP: fenced, the fence race settled by priority-fencing-delay and the arbiter, validates, crm_verify accepts it")
    func pair() throws {
        let profile = KubernetesControlPlaneProfile(
            vips: ["198.18.0.100"],
            controllers: [.init(name: "cp1", fence: Self.redfish(1)), .init(name: "cp2", fence: Self.redfish(2))])
        let configuration = profile.configuration()
        #expect(Validator.validate(configuration).filter { $0.severity == .error } == [])
        let xml = CIBRenderer.render(configuration)
        for id in [
            "fence-cp1", "fence-cp2", "haproxy-clone", "vip", "vip-monitor-interval-2s", "apiserver-clone",
            "colocation-vip-haproxy-clone-INFINITY", "order-haproxy-clone-vip-Optional", "control",
            "pair-arbiter", "colocation-pair-arbiter-vip--INFINITY",
        ] {
            #expect(xml.contains(#"id="\#(id)""#), "missing \(id)")
        }
        // No node's device carries a fixed delay: the VIP's holder waits (priority-fencing-delay), whichever it is.
        #expect(!xml.contains("pcmk_delay_base"))
        #expect(xml.components(separatedBy: #"name="priority-fencing-delay" value="5s""#).count == 2)
        let arbiter = try #require(configuration.resources.first { $0.id == "pair-arbiter" })
        guard case .primitive(let primitive) = arbiter else { throw TestSetupError("the arbiter is not a primitive") }
        #expect(primitive.agent?.description == "ocf:pacemaker:Dummy")
        #expect(primitive.metaAttributes.flatMap(\.nvpairs).map { "\($0.name)=\($0.value ?? "")" } == ["priority=10"])
        #expect(xml.contains(#"name="stonith-enabled" value="true""#))
        #expect(xml.contains(#"name="resource-stickiness" value="100""#))
        #expect(xml.contains(#"name="transition-delay" value="300ms""#))
        let (status, output) = try Self.crmVerify(xml)
        #expect(status == 0, "crm_verify: \(output)")
        #expect(profile.kubeadmInit == "kubeadm init --control-plane-endpoint 198.18.0.100:7443 --upload-certs")
    }

    @Test("Three controllers with two VIPs, lsb haproxy, no apiserver resource")
    func threeControllersTwoVIPs() throws {
        var profile = KubernetesControlPlaneProfile(
            vips: ["198.18.0.100", "198.18.0.101"],
            controllers: (1...3).map { .init(name: "cp\($0)", fence: Self.redfish($0)) })
        profile.haproxy?.agent = ResourceAgent(class: .lsb, type: "haproxy")
        profile.apiserver = nil
        let configuration = profile.configuration()
        #expect(Validator.validate(configuration).filter { $0.severity == .error } == [])
        let xml = CIBRenderer.render(configuration)
        #expect(profile.vipIDs == ["vip-1", "vip-2"])
        #expect(xml.contains(#"id="colocation-vip-2-haproxy-clone-INFINITY""#))
        #expect(!xml.contains("pcmk_delay_base"), "no delay outside pairs")
        #expect(!xml.contains("priority-fencing-delay") && !xml.contains("pair-arbiter"), "no arbiter outside pairs")
        #expect(!xml.contains("apiserver"))
        // The rendered CIB read back: haproxy-clone's child is the lsb agent.
        let parsed = try CIBParser.parse(xml: xml).configuration
        guard case .clone(let clone) = try #require(parsed.resources.first { $0.id == "haproxy-clone" }),
            case .primitive(let haproxy) = clone.child
        else { throw TestSetupError("haproxy-clone is not a clone of a primitive") }
        #expect(haproxy.id == "haproxy")
        #expect(haproxy.agent?.description == "lsb:haproxy")
        let (status, output) = try Self.crmVerify(xml)
        #expect(status == 0, "crm_verify: \(output)")
    }
}
