import Foundation
import Testing
import TestSupport

/// Hostile input to the built khactl: each is refused with a clear error, quickly and in bounded memory. The
/// time and peak memory of each run are measured around the child process (python's `resource` module) and
/// printed; the bounds checked are generous (they catch a hang or a blow-up, not a slow machine).
@Suite("hostile input: bombs and giants")
struct HostileInputTests {
    struct Run {
        let status: Int32
        let seconds: Double
        let maxRSSMiB: Double
        let stderr: String
    }

    /// Runs the built khactl with `arguments` under a python wrapper that reports exit status, wall time and the
    /// child's peak RSS.
    static func measure(_ arguments: [String]) throws -> Run {
        let wrapper = """
            import resource, subprocess, sys, time
            start = time.monotonic()
            result = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            seconds = time.monotonic() - start
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            sys.stderr.buffer.write(result.stderr)
            print(result.returncode, seconds, rss)
            """
        let khactl = productsDirectory.appendingPathComponent("khactl").path
        let result = try runTool("/usr/bin/python3", ["-c", wrapper, khactl] + arguments, timeout: 120)
        let parts = result.stdout.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count == 3, let status = Int32(parts[0]), let seconds = Double(parts[1]), let rss = Double(parts[2]) else {
            throw TestSetupError("wrapper output: \(result.stdout) \(result.stderr)")
        }
        print("khactl \(arguments.first ?? "") on hostile input: exit \(status), \(String(format: "%.2f", seconds)) s, peak RSS \(String(format: "%.1f", rss)) MiB")
        return Run(status: status, seconds: seconds, maxRSSMiB: rss, stderr: result.stderr)
    }

    static func file(_ name: String, _ text: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-hostile-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    static func expectRefused(_ run: Run, _ message: String) {
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(run.seconds < 10, "took \(run.seconds) s")
        #expect(run.maxRSSMiB < 100, "peak RSS \(run.maxRSSMiB) MiB")
    }

    @Test("a YAML alias bomb (9 levels of 9 aliases)")
    func aliasBomb() throws {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let previous = Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ")
            yaml += "a\(level): &a\(level) [\(previous)]\n"
        }
        yaml += "resources: *a9\n"
        let path = try Self.file("bomb.yaml", yaml)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        Self.expectRefused(try Self.measure(["spec", "validate", "-f", path]), "expands to more than 1000000 YAML nodes")
    }

    @Test("a 100 MB spec is refused before it is read")
    func giantSpec() throws {
        let path = try Self.file("giant.yaml", "resources: []\n")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let line = Data("# padding padding padding padding padding padding padding padding padding padding padding\n".utf8)
        var chunk = Data()
        for _ in 0..<(1 << 14) { chunk.append(line) }
        handle.seekToEndOfFile()
        while handle.offsetInFile < 100_000_000 { handle.write(chunk) }
        try handle.close()
        Self.expectRefused(try Self.measure(["spec", "validate", "-f", path]), "specs larger than 8 MiB are refused")
    }

    @Test("10,000-deep nesting, flow and block style", arguments: ["flow", "block"])
    func deepNesting(style: String) throws {
        let text: String
        if style == "flow" {
            text = "resources: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        } else {
            // Compact nested sequences: "- - - ... x", 10,000 levels on one line.
            text = "resources:\n  " + String(repeating: "- ", count: 10_000) + "x\n"
        }
        let path = try Self.file("deep.yaml", text)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        Self.expectRefused(try Self.measure(["spec", "validate", "-f", path]), "the spec nests deeper than 64 levels")
    }

    @Test("a CIB with a DOCTYPE and nested entities")
    func entityCIB() throws {
        var entities = "<!ENTITY e0 \"lol\">\n"
        for level in 1...9 { entities += "<!ENTITY e\(level) \"" + String(repeating: "&e\(level - 1);", count: 10) + "\">\n" }
        let cib = """
            <?xml version="1.0"?>
            <!DOCTYPE cib [
            \(entities)]>
            <cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources><primitive id="&e9;" class="ocf" provider="pacemaker" type="Dummy"/></resources><constraints/></configuration><status/></cib>
            """
        let path = try Self.file("cib.xml", cib)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        Self.expectRefused(try Self.measure(["spec", "from-cib", "--cib-file", path]), "a <!DOCTYPE declaration is not allowed")
    }
}
