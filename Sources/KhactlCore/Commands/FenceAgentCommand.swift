import ArgumentParser
import Foundation

/// `khactl fence-agent`: khactl's compiled Redfish fence agent, `fence_khactl`.
package struct FenceAgentCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "fence-agent",
        abstract: "Install `fence_khactl`, khactl's compiled Redfish fence agent (fence_redfish's parameters, without Python's start-up).",
        subcommands: [FenceAgentInstall.self, FenceAgentMetadata.self])

    package init() {}
}

/// `khactl fence-agent install`.
package struct FenceAgentInstall: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Link fence_khactl in the fence agents' folder to this khactl binary (run on every node).")

    @Option(help: ArgumentHelp("Where Pacemaker looks for fence agents.", valueName: "folder"))
    package var directory = FenceAgentLink.defaultDirectory

    package init() {}

    package func run() async throws {
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        do {
            let changed = try FenceAgentLink.install(binary: binary, directory: directory)
            print(changed ? "\(directory)/\(RedfishFenceAgent.name) -> \(binary)" : "\(directory)/\(RedfishFenceAgent.name) already links to \(binary)")
        } catch {
            throw CLIError("fence-agent install: \(error)")
        }
    }
}

/// `khactl fence-agent metadata`: what Pacemaker reads from `fence_khactl -o metadata`.
package struct FenceAgentMetadata: ParsableCommand {
    package static let configuration = CommandConfiguration(commandName: "metadata", abstract: "Print fence_khactl's metadata.")

    package init() {}

    package func run() {
        print(RedfishFenceAgent.metadata, terminator: "")
    }
}

/// The `fence_khactl` link: made next to the fence agents, pointing at the khactl binary.
package enum FenceAgentLink {
    /// Pacemaker's folder of fence agents (RH_STONITH_DIR on Debian).
    package static let defaultDirectory = "/usr/sbin"

    /// Links `directory/fence_khactl` to `binary`, replacing an older link atomically (a link made under a
    /// temporary name, renamed over). The folder must be root's and writable by nobody else, and the binary a
    /// root-owned file no other user can write: Pacemaker runs the agent as root. Returns whether it changed.
    package static func install(binary: String, directory given: String) throws -> Bool {
        // The folder as it really is (Debian's /sbin is a link to usr/sbin); every part of it is then checked.
        guard let resolved = realpath(given, nil) else { throw CLIError("\(given): \(String(cString: strerror(errno)))") }
        let directory = String(cString: resolved)
        free(resolved)
        try checkOwnedByRoot(directory, folder: true)
        try checkOwnedByRoot(binary, folder: false)
        let path = "\(directory)/\(RedfishFenceAgent.name)"
        if let current = try? FileManager.default.destinationOfSymbolicLink(atPath: path), current == binary { return false }
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT != S_IFLNK {
            throw CLIError("\(path) exists and is not a link; remove it first")
        }
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folder >= 0 else { throw CLIError("\(directory): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(folder) }
        let temporary = ".\(RedfishFenceAgent.name).khactl-\(UInt32.random(in: 0...UInt32.max))"
        guard symlinkat(binary, folder, temporary) == 0 else {
            throw CLIError("\(directory): cannot make a link (\(String(cString: strerror(errno))))")
        }
        guard renameat(folder, temporary, folder, RedfishFenceAgent.name) == 0 else {
            let reason = String(cString: strerror(errno))
            unlinkat(folder, temporary, 0)
            throw CLIError("\(path): cannot rename the link into place (\(reason))")
        }
        fsync(folder)
        return true
    }

    /// Refuses a path (and each folder above it) that another user than root owns or can write.
    static func checkOwnedByRoot(_ path: String, folder: Bool) throws {
        var current = URL(fileURLWithPath: path).standardized.path
        var first = true
        while true {
            var status = stat()
            guard lstat(current, &status) == 0 else { throw CLIError("\(current): \(String(cString: strerror(errno)))") }
            let kind = status.st_mode & S_IFMT
            if first {
                guard kind == (folder ? S_IFDIR : S_IFREG) else {
                    throw CLIError("\(current) is not a \(folder ? "folder" : "regular file")")
                }
            }
            guard status.st_uid == 0, status.st_mode & (S_IWGRP | S_IWOTH) == 0 || (kind == S_IFDIR && status.st_mode & S_ISVTX != 0 && !first)
            else {
                throw CLIError("\(current) is owned or writable by another user than root; Pacemaker runs fence agents as root")
            }
            if current == "/" { break }
            current = URL(fileURLWithPath: current).deletingLastPathComponent().standardized.path
            first = false
        }
    }
}
