import Foundation
import KhactlLab
import Testing

/// The drill's phases, read from log lines as corosync 3.1 and pacemaker 2.1 write them (copied from a lab run).
@Suite("failover phases from daemon logs")
struct FailoverPhasesTests {
    static let corosync = """
        Dec 03 16:42:34.711 [22] node1 corosync notice  [TOTEM ] A new membership (1.d) was formed. Members joined: 3
        Dec 03 16:42:43.803 [22] node1 corosync notice  [TOTEM ] A processor failed, forming new configuration: token timed out (500ms), waiting 600ms for consensus.
        Dec 03 16:42:44.419 [22] node1 corosync notice  [TOTEM ] A new membership (1.11) was formed. Members left: 3
        """
    static let pacemaker = """
        Dec 03 16:42:41.359 node1 pacemaker-controld  [40] (execute_rsc_action) \tnotice: Initiating start operation vip_start_0 on node3 | action 22
        Dec 03 16:42:44.640 node1 pacemaker-schedulerd[39] (pcmk__log_transition_summary) \tnotice: Calculated transition 7, saving inputs in /var/lib/pacemaker/pengine/pe-warn-3.bz2
        Dec 03 16:42:44.642 node1 pacemaker-controld  [40] (controld_execute_fence_action) \tnotice: Requesting fencing (off) of node node3 | action=3 timeout=30000
        Dec 03 16:42:45.047 node1 pacemaker-controld  [40] (handle_fence_notification) \tnotice: Peer node3 was terminated (off) by node1 on behalf of pacemaker-controld.40@node1: OK | event=13dfc872
        Dec 03 16:42:45.051 node1 pacemaker-controld  [40] (execute_rsc_action) \tnotice: Initiating start operation vip_start_0 on node2 | action 21
        """

    static func fault(_ text: String) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy MMM dd HH:mm:ss.SSS"
        let year = Calendar.current.component(.year, from: Date())
        return formatter.date(from: "\(year) \(text)")!
    }

    @Test("each phase is the first matching line after the fault, in seconds since it; earlier rounds' lines are skipped")
    func phases() {
        let phases = FailoverPhases.read(
            corosyncLogs: [Self.corosync], pacemakerLogs: [Self.pacemaker], since: Self.fault("Dec 03 16:42:42.700"),
            victim: "node3", resource: "vip")
        #expect(phases.tokenLost.map { ($0 * 1000).rounded() } == 1103)
        #expect(phases.membership.map { ($0 * 1000).rounded() } == 1719)
        #expect(phases.scheduled.map { ($0 * 1000).rounded() } == 1940)
        #expect(phases.fenceRequested.map { ($0 * 1000).rounded() } == 1942)
        #expect(phases.fenceConfirmed.map { ($0 * 1000).rounded() } == 2347)
        // The start on node3 at 16:42:41 belongs to an earlier round.
        #expect(phases.startIssued.map { ($0 * 1000).rounded() } == 2351)
    }

    @Test("a start the DC runs itself ('locally on') counts too")
    func localStart() {
        let line = "Dec 03 16:42:45.051 node1 pacemaker-controld  [40] (execute_rsc_action) \tnotice: Initiating start operation vip_start_0 locally on node1 | action 21"
        let phases = FailoverPhases.read(
            corosyncLogs: [], pacemakerLogs: [line], since: Self.fault("Dec 03 16:42:42.700"), victim: "node3", resource: "vip")
        #expect(phases.startIssued.map { ($0 * 1000).rounded() } == 2351)
    }

    @Test("a victim or resource the logs do not name leaves those phases empty")
    func missing() {
        let phases = FailoverPhases.read(
            corosyncLogs: [], pacemakerLogs: [Self.pacemaker], since: Self.fault("Dec 03 16:42:42.700"),
            victim: "node9", resource: "other")
        #expect(phases.tokenLost == nil)
        #expect(phases.fenceRequested == nil)
        #expect(phases.fenceConfirmed == nil)
        #expect(phases.startIssued == nil)
        #expect(phases.scheduled.map { ($0 * 1000).rounded() } == 1940)
    }
}
