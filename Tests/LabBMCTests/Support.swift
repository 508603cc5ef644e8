import LabBMC
import Synchronization
import TestSupport

/// A ``PowerControl`` that keeps the power state in memory and records every power change asked of it.
final class RecordingPowerControl: PowerControl {
    enum Call: String, Sendable, Equatable { case powerOff, powerOn, reset }

    private let state: Mutex<(power: PowerState, calls: [Call], failure: String?)>

    init(_ initial: PowerState = .on) { state = Mutex((initial, [], nil)) }

    /// The power changes asked for, in order.
    var calls: [Call] { state.withLock { $0.calls } }
    var power: PowerState { state.withLock { $0.power } }
    /// Makes every later call throw an error with this text.
    func fail(with message: String) { state.withLock { $0.failure = message } }

    func powerState() async throws -> PowerState {
        try state.withLock { state in
            if let failure = state.failure { throw TestSetupError(failure) }
            return state.power
        }
    }

    func powerOff() async throws { try change(.powerOff, to: .off) }
    func powerOn() async throws { try change(.powerOn, to: .on) }
    func reset() async throws { try change(.reset, to: .on) }

    private func change(_ call: Call, to power: PowerState) throws {
        try state.withLock { state in
            if let failure = state.failure { throw TestSetupError(failure) }
            state.calls.append(call)
            state.power = power
        }
    }
}

/// Lines a BMC logged, for checking what it did and did not write.
final class LogRecorder: Sendable {
    private let stored = Mutex<[String]>([])
    var lines: [String] { stored.withLock { $0 } }
    var sink: @Sendable (String) -> Void { { [self] line in stored.withLock { $0.append(line) } } }
}

