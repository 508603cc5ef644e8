import Foundation
import ClusterExec
import Pacemaker

/// What a run of the built `khactl` printed and how it exited.
package struct CommandResult: Sendable {
    package let status: Int32
    package let stdout: String
    package let stderr: String

    package init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    package var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// Runs the built `khactl` (or, with `via`, a command that wraps it, such as nsenter) and waits for it.
package func runKhactl(
    _ arguments: [String], via wrapper: [String] = [], environment: [String: String] = [:], timeout: TimeInterval = 30
) throws -> CommandResult {
    let khactl = productsDirectory.appendingPathComponent("khactl").path
    let argv = wrapper + [khactl] + arguments
    return try runTool(argv[0], Array(argv.dropFirst()), environment: environment, timeout: timeout)
}

/// A value set once from another thread.
// @unchecked Sendable: guarded by the NSLock.
package final class Mutex2<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    private var done = false
    package init(_ value: Value) { stored = value }
    package func set(_ value: Value) { lock.withLock { stored = value; done = true } }
    package var isSet: Bool { lock.withLock { done } }
    package var value: Value { lock.withLock { stored } }
}

/// Runs a tool found on PATH and returns its standard output; throws unless it exits 0.
@discardableResult
package func toolOutput(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
    let result = try runTool("/usr/bin/env", [executable] + arguments, environment: environment)
    guard result.status == 0 else {
        throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
    }
    return result.stdout
}

/// The canonical text of an XML document's root (Pacemaker's CanonicalXML), for exact comparisons.
package func canonicalXML(_ xml: String) -> String { CanonicalXML.string(xml: xml) ?? "(not XML)" }

/// A CIB file made by `cibadmin --empty` in a scratch folder, with stonith-enabled=false.
package struct CIBFile {
    package let folder: URL
    package let path: String

    package init(_ name: String = "cib.xml") throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-apply-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent(name).path
        let empty = try toolOutput("cibadmin", ["--empty"])
        try empty.write(toFile: path, atomically: true, encoding: .utf8)
        // No fence devices in a file: without this crm_verify (rightly) calls the configuration invalid.
        try toolOutput(
            "crm_attribute", ["--type", "crm_config", "--name", "stonith-enabled", "--update", "false"],
            environment: ["CIB_file": path])
    }

    package var text: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    package var epoch: Int { (try? CIBVersion(xml: text).epoch) ?? -1 }
    package func remove() { try? FileManager.default.removeItem(at: folder) }

    package func engine(_ configure: (inout ApplyOptions) -> Void = { _ in }) -> ApplyEngine {
        var options = ApplyOptions()
        options.cibFile = path
        configure(&options)
        return ApplyEngine(options: options)
    }
}

