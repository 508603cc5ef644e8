import Foundation
import KhactlCore

/// The executable's entry point; every command lives in KhactlCore.
@main
struct KhactlMain {
    static func main() async {
        // Run by Pacemaker as an alert agent (`khactl alert install`): no arguments, CRM_alert_* set.
        let environment = ProcessInfo.processInfo.environment
        if CommandLine.arguments.count == 1, environment[PacemakerAlert.kindVariable] != nil {
            exit(PacemakerAlert.forward(environment: environment))
        }
        await Khactl.main()
    }
}
