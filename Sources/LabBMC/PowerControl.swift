/// The power switch behind an emulated BMC: whatever really turns a lab node on and off.
///
/// ``RedfishBMC`` calls these one at a time (it serialises them) and answers the Redfish request only after
/// the call returns, so an implementation may take its time while a node is being killed or revived. A
/// thrown error becomes a Redfish `500` with the error's description.
package protocol PowerControl: Sendable {
    /// Whether the node is powered on now.
    func powerState() async throws -> PowerState

    /// Cuts power at once (Redfish `ForceOff`); a node that is already off stays off.
    func powerOff() async throws

    /// Powers the node on (Redfish `On`); a node that is already on stays on.
    func powerOn() async throws

    /// Power-cycles the node (Redfish `ForceRestart`): off, then on again.
    func reset() async throws
}

/// A node's power state, spelled as Redfish's `PowerState` property spells it.
package enum PowerState: String, Sendable {
    /// Powered on (`"On"`).
    case on = "On"
    /// Powered off (`"Off"`).
    case off = "Off"
}

/// One power call at a time, in arrival order: a status poll never sees a half-run power command, and two
/// fencing requests never run their commands interleaved. (An actor alone would interleave at each `await`.)
actor PowerGate {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
