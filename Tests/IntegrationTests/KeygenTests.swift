import Corosync
import Foundation
import Testing
import TestSupport

/// `khactl keygen`: the built binary, and the key on a real corosync.
@Suite("khactl keygen", .serialized)
struct KeygenTests {
    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("khactl-keygen-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("writes 256 bytes, mode 0400, prints no key material; corosync runs with it")
    func keygen() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = "\(folder)/authkey"
        let result = try runKhactl(["keygen", path])
        #expect(result.status == 0, "\(result.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o400)
        let key = try #require(FileManager.default.contents(atPath: path))
        #expect(key.count == 256)
        // Nothing of the key on stdout or stderr, in hex or raw.
        let hex = key.prefix(8).map { String(format: "%02x", $0) }.joined()
        #expect(!result.stdout.contains(hex) && !result.stderr.contains(hex))
        #expect(result.stdout.utf8.count < 100)
        // No temporary file left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["authkey"])
        // corosync (knet, aes256/sha256) forms its membership with this key.
        let node = try TestCorosync.start(authkey: path)
        defer { node.stop() }
        #expect(try Quorum(endpoint: node.endpoint).isQuorate())
    }

    @Test("refuses to overwrite without --force, and bad sizes; both change nothing")
    func refusals() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = "\(folder)/authkey"
        #expect(try runKhactl(["keygen", path, "--size", "128"]).status == 0)
        let first = FileManager.default.contents(atPath: path)
        #expect(first?.count == 128)
        let again = try runKhactl(["keygen", path])
        #expect(again.status == 1)
        #expect(again.stderr.contains("exists; pass --force"))
        #expect(FileManager.default.contents(atPath: path) == first)
        let forced = try runKhactl(["keygen", path, "--force", "--size", "512"])
        #expect(forced.status == 0)
        #expect(FileManager.default.contents(atPath: path)?.count == 512)
        for size in ["127", "513", "0"] {
            let bad = try runKhactl(["keygen", "\(folder)/other", "--size", size])
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("--size must be 128 to 512 bytes"))
        }
        let missing = try runKhactl(["keygen", "\(folder)/no/such/folder/authkey"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot write authkey"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["authkey"])
    }
}
