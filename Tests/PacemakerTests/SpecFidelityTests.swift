import Foundation
import Testing

@testable import Pacemaker

/// What a CIB made by another tool holds that pcs's conventions do not: several attribute sets with their own
/// ids and scores, sets with rules, elements the spec does not type, constraints without pcs's defaults. The
/// spec carries all of it, and reading the spec back gives the CIB's configuration exactly.
@Suite("Spec fidelity: a CIB not made by pcs survives CIB -> spec -> CIB")
struct SpecFidelityTests {
    static let cib = """
        <cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
          <configuration>
            <crm_config>
              <cluster_property_set id="no-stonith">
                <nvpair id="opt-no-stonith" name="stonith-enabled" value="false"/>
              </cluster_property_set>
              <cluster_property_set id="cib-bootstrap-options" score="10">
                <nvpair id="nqp" name="no-quorum-policy" value="ignore"/>
                <nvpair id="nqp-2" name="no-quorum-policy" value="stop"/>
              </cluster_property_set>
              <cluster_property_set id="office-hours">
                <rule id="office-hours-rule" score="0"><date_expression id="oh-date" operation="gt" start="2026-01-01"/></rule>
                <nvpair id="oh-ss" name="stop-all-resources" value="true"/>
              </cluster_property_set>
            </crm_config>
            <nodes/>
            <resources>
              <primitive id="d1" class="ocf" provider="pacemaker" type="Dummy">
                <instance_attributes id="d1-params"><nvpair id="d1-params-fake" name="fake" value="b"/></instance_attributes>
                <meta_attributes id="d1-meta_attributes"/>
                <operations id="d1-ops"><op id="d1-mon" name="monitor" interval="10"/></operations>
              </primitive>
              <primitive id="d2" class="ocf" provider="pacemaker" type="Dummy"/>
              <template id="t1" class="ocf" provider="pacemaker" type="Dummy"/>
            </resources>
            <constraints>
              <rsc_order id="o1" first="d1" then="d2"/>
              <rsc_colocation id="c1" rsc="d2" with-rsc="d1" with-rsc-role="Started" score="100"/>
              <rsc_ticket id="tk" rsc="d1" ticket="T"/>
              <rsc_order id="o2" kind="Optional">
                <resource_set id="my-set" sequential="false"><resource_ref id="d1"/><resource_ref id="d2"/></resource_set>
              </rsc_order>
            </constraints>
            <op_defaults/>
            <tags><tag id="tg"><obj_ref id="d1"/></tag></tags>
          </configuration>
          <status/>
        </cib>
        """

    @Test("every set, id, verbatim element and left-out default comes back; nothing is omitted")
    func roundTrip() throws {
        let model = try CIBParser.parse(xml: Self.cib).configuration
        let export = SpecFile.export(Spec(from: model))
        #expect(export.omitted == [])
        let reread = try SpecFile.parse(export.yaml, file: "fidelity.yaml")
        #expect(Validator.validate(reread).filter { $0.severity == .error }.map(\.description) == [])
        #expect(
            try canonicalConfiguration(ofCIB: CIBRenderer.render(reread.configuration))
                == canonicalConfiguration(ofCIB: Self.cib), "spec:\n\(export.yaml)")
    }

    @Test("the spec says it in the forms the format documents")
    func forms() throws {
        let yaml = SpecFile.export(Spec(from: try CIBParser.parse(xml: Self.cib).configuration)).yaml
        #expect(
            yaml == """
                properties:
                - id: no-stonith
                  pairs:
                  - {name: stonith-enabled, value: "false", id: opt-no-stonith}
                - id: cib-bootstrap-options
                  score: "10"
                  pairs:
                  - {name: no-quorum-policy, value: ignore, id: nqp}
                  - {name: no-quorum-policy, value: stop, id: nqp-2}
                - xml: <cluster_property_set id="office-hours"><rule id="office-hours-rule" score="0"><date_expression id="oh-date" operation="gt"
                    start="2026-01-01"></date_expression></rule><nvpair id="oh-ss" name="stop-all-resources" value="true"></nvpair></cluster_property_set>
                defaults:
                  operations: []
                resources:
                - id: d1
                  agent: ocf:pacemaker:Dummy
                  params:
                  - id: d1-params
                    pairs: {fake: b}
                  meta:
                  - pairs: {}
                  operations-id: d1-ops
                  operations:
                  - {name: monitor, interval: "10", id: d1-mon}
                - id: d2
                  agent: ocf:pacemaker:Dummy
                  default-monitor: "false"
                - xml: <template id="t1" class="ocf" provider="pacemaker" type="Dummy"></template>
                constraints:
                - order: {first: d1, then: d2, pcs-defaults: "false", id: o1}
                - colocation: {resource: d2, with: d1, score: "100", with-role: Started, pcs-defaults: "false", id: c1}
                - xml: <rsc_ticket id="tk" rsc="d1" ticket="T"></rsc_ticket>
                - order: {sets: [{resources: [d1, d2], sequential: "false", id: my-set}], id: o2, kind: Optional}
                xml:
                - <tags><tag id="tg"><obj_ref id="d1"></obj_ref></tag></tags>

                """)
    }

    @Test("bad escape hatches are refused with their position")
    func badXML() {
        #expect(
            messages(for: "resources:\n  - xml: \"<primitive id='x'\"\n")
                == ["bad.yaml:2:10: resources[0].xml: not one well-formed XML element"])
        #expect(
            messages(for: "properties:\n  - {xml: \"<cluster_property_set id='a'/>\", id: b}\n")
                == ["bad.yaml:2:5: properties[0]: a set given as xml has no other keys"])
        #expect(
            messages(for: "constraints:\n  - order: {first: a, then: b, pcs-defaults: maybe}\n")
                == ["bad.yaml:2:46: constraints[0].order.pcs-defaults: 'maybe' is not a boolean (true or false)"])
    }
}
