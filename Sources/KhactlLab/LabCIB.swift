import Pacemaker
import KhactlCore
import ClusterExec
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The CIB each lab node boots with the first time.
enum LabCIB {
    /// Pacemaker waits dc-deadtime (20 s by default) before its first DC election; the lab's nodes all
    /// start within a second, so 2 s is plenty.
    static let dcDeadtime = "2s"

    /// The first CIB: an empty one as this host's Pacemaker makes it (`cibadmin --empty`, so the feature
    /// set matches the daemons), with quick first election, fencing on, and one fence_redfish device per
    /// node pointing at that node's lab BMC.
    static func initial(clusterName: String, nodes: [LabNodeState], fencing: Bool, bmcPassword: String) async throws -> String {
        let empty = await emptyCIB()
        let document = try XMLDocument(xmlString: empty, options: [])
        guard let configuration = try document.nodes(forXPath: "/cib/configuration").first as? XMLElement,
            let crmConfig = configuration.elements(forName: "crm_config").first,
            let resources = configuration.elements(forName: "resources").first,
            let constraints = configuration.elements(forName: "constraints").first
        else { throw LabError("cibadmin --empty gave an unexpected CIB") }
        let options = element("cluster_property_set", ["id": "cib-bootstrap-options"])
        for (name, value) in [
            ("dc-deadtime", dcDeadtime), ("stonith-enabled", fencing ? "true" : "false"), ("stonith-timeout", "30s"),
            // A fenced lab node stays off until `khactl lab revive` (or a drill) powers it on, as an
            // operator would after looking at it.
            ("stonith-action", "off"),
        ] {
            options.addChild(element("nvpair", ["id": "cib-bootstrap-options-\(name)", "name": name, "value": value]))
        }
        crmConfig.addChild(options)
        if fencing {
            for node in nodes {
                let id = "fence-\(node.name)"
                let primitive = element("primitive", ["id": id, "class": "stonith", "type": "fence_redfish"])
                let attributes = element("instance_attributes", ["id": "\(id)-instance_attributes"])
                for (name, value) in [
                    ("ip", node.bmcAddress), ("ipport", "443"), ("username", "admin"), ("password", bmcPassword),
                    ("ssl_insecure", "1"), ("pcmk_host_list", node.name), ("power_wait", "0"),
                ] {
                    attributes.addChild(element("nvpair", ["id": "\(id)-instance_attributes-\(name)", "name": name, "value": value]))
                }
                primitive.addChild(attributes)
                let operations = element("operations", [:])
                operations.addChild(element("op", ["id": "\(id)-monitor-interval-60s", "name": "monitor", "interval": "60s"]))
                primitive.addChild(operations)
                resources.addChild(primitive)
                // A node never runs the device that fences itself.
                constraints.addChild(element("rsc_location", [
                    "id": "location-\(id)-\(node.name)--INFINITY", "rsc": id, "node": node.name, "score": "-INFINITY",
                ]))
            }
        }
        return document.xmlString(options: [.nodePrettyPrint]) + "\n"
    }

    static func element(_ name: String, _ attributes: [String: String]) -> XMLElement {
        let element = XMLElement(name: name)
        for key in attributes.keys.sorted() {
            element.addAttribute(XMLNode.attribute(withName: key, stringValue: attributes[key]!) as! XMLNode)
        }
        return element
    }

    /// `cibadmin --empty`, or a pacemaker 2.1 default when it cannot run.
    static func emptyCIB() async -> String {
        if let output = try? await SubprocessRunner().run(Command("cibadmin", ["--empty"], timeout: .seconds(30))), output.succeeded,
            !output.standardOutput.isEmpty
        {
            return output.standardOutput
        }
        return """
            <cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
            <configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>
            """
    }
}
