/// The power switch behind an emulated BMC: whatever really turns a lab node on and off.
///
/// ``RedfishBMC`` calls these from its connection threads, one call at a time (it serialises them), and
/// answers the Redfish request only after the call returns, so an implementation may block while a node
/// is being killed or revived. A thrown error becomes a Redfish `500` with the error's description.
public protocol PowerControl: Sendable {
    /// Whether the node is powered on now.
    func powerState() throws -> PowerState

    /// Cuts power at once (Redfish `ForceOff`); a node that is already off stays off.
    func powerOff() throws

    /// Powers the node on (Redfish `On`); a node that is already on stays on.
    func powerOn() throws

    /// Power-cycles the node (Redfish `ForceRestart`): off, then on again.
    func reset() throws
}

/// A node's power state, spelled as Redfish's `PowerState` property spells it.
public enum PowerState: String, Sendable {
    /// Powered on (`"On"`).
    case on = "On"
    /// Powered off (`"Off"`).
    case off = "Off"
}
