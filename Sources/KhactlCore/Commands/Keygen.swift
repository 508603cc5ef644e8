import ArgumentParser

/// `khactl keygen FILE`: a new corosync authkey, written 0400 atomically, never printed.
package struct Keygen: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Write a new corosync authkey (mode 0400, atomically; the key is never printed).",
        discussion: "Copy the same file to every node of the cluster, e.g. with `khactl bootstrap --authkey FILE`.")

    @Argument(help: "Where to write the key, e.g. /etc/corosync/authkey.") package var file: String
    @Option(help: "Key size in bytes, 128 to 512 (1024 to 4096 bits).") package var size = AuthKey.defaultSize
    @Flag(help: "Replace an existing file.") package var force = false

    package init() {}

    package func validate() throws {
        if !AuthKey.sizes.contains(size) {
            throw ValidationError("--size must be \(AuthKey.sizes.lowerBound) to \(AuthKey.sizes.upperBound) bytes, not \(size)")
        }
    }

    package func run() throws {
        do {
            try AuthKey.generate(size: size).write(to: file, replacing: force)
        } catch {
            throw CLIError(String(describing: error))
        }
        print("wrote a \(size * 8)-bit corosync authkey to \(file) (mode 0400)")
    }
}
