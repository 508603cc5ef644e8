import Foundation
import Synchronization

/// Collects a child process's output lines as they arrive, so a test can wait for a given line.
package final class LineCollector: Sendable {
    private let state = Mutex<(partial: String, lines: [String])>(("", []))

    /// Attaches to `pipe`'s read end; lines accumulate until the pipe closes.
    package init(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            self?.append(String(decoding: data, as: UTF8.self))
        }
    }

    private func append(_ text: String) {
        state.withLock { state in
            state.partial += text
            while let newline = state.partial.firstIndex(of: "\n") {
                state.lines.append(String(state.partial[..<newline]))
                state.partial = String(state.partial[state.partial.index(after: newline)...])
            }
        }
    }

    /// Every complete line so far.
    package var lines: [String] { state.withLock { $0.lines } }

    /// Waits until `condition` holds for the lines so far, or throws after `timeout` seconds.
    @discardableResult
    package func wait(
        for what: String, timeout: TimeInterval = 10, until condition: ([String]) -> Bool
    ) async throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let lines = self.lines
            if condition(lines) { return lines }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out after \(timeout) s waiting for \(what); lines so far: \(lines)")
    }
}

/// Collects the elements of an async sequence in a background task.
package final class EventCollector<Element: Sendable>: Sendable {
    private final class Storage: Sendable {
        let state = Mutex<(events: [Element], end: Result<Void, any Error>?)>(([], nil))
    }
    private let storage = Storage()
    private let task = Mutex<Task<Void, Never>?>(nil)

    package init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Element {
        let storage = self.storage
        let task = Task {
            do {
                for try await element in sequence {
                    storage.state.withLock { $0.events.append(element) }
                }
                storage.state.withLock { $0.end = .success(()) }
            } catch {
                storage.state.withLock { $0.end = .failure(error) }
            }
        }
        self.task.withLock { $0 = task }
    }

    package var events: [Element] { storage.state.withLock { $0.events } }
    package var end: Result<Void, any Error>? { storage.state.withLock { $0.end } }

    /// Waits until `condition` holds for the events so far, or throws after `timeout` seconds.
    @discardableResult
    package func wait(
        for what: String, timeout: TimeInterval = 10, until condition: ([Element]) -> Bool
    ) async throws -> [Element] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let events = self.events
            if condition(events) { return events }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out after \(timeout) s waiting for \(what); events so far: \(events)")
    }

    /// Waits until the sequence ends, or throws after `timeout` seconds.
    package func waitForEnd(timeout: TimeInterval = 15) async throws -> Result<Void, any Error> {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let end = self.end { return end }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("the sequence did not end within \(timeout) s")
    }

    package func cancel() { task.withLock { $0?.cancel() } }
}
