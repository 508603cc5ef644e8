import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file-system operation that was refused or failed: the path and why.
public struct SecureFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The path concerned.
    public let path: String
    /// What went wrong.
    public let reason: String

    /// Creates an error.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }

    static func errno(_ path: String, _ what: String) -> SecureFileError {
        SecureFileError(path: path, reason: "\(what): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// khactl's one way to write a file, as root daemons do: the new file is created next to the target with
/// `O_CREAT|O_EXCL|O_NOFOLLOW` and its final mode from the first byte (never readable by anyone else, even for
/// a moment), owned as asked through its descriptor, written, flushed to disk, renamed over the target, and the
/// folder flushed. The folder is opened once with `O_NOFOLLOW` and everything happens relative to it, so a link
/// planted in its place or under the temporary name is never followed.
public enum SecureFile {
    /// Writes `data` to `path` with `mode` (and `owner`, uid and gid, when given), replacing what is there.
    public static func write(_ path: String, _ data: Data, mode: mode_t, owner: (uid: uid_t, gid: gid_t)? = nil) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        let directory = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw SecureFileError.errno(folder, "cannot open the folder") }
        defer { close(directory) }
        let temporary = ".\(name).khactl-\(UInt32.random(in: 0...UInt32.max))"
        let fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SecureFileError.errno(path, "cannot create \(temporary)") }
        var written = false
        defer {
            close(fd)
            if !written { unlinkat(directory, temporary, 0) }
        }
        // The umask may have taken bits away; fchmod makes the mode exactly the one asked (never wider than at
        // creation when the umask is 0).
        guard fchmod(fd, mode) == 0 else { throw SecureFileError.errno(path, "cannot set the mode") }
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 { throw SecureFileError.errno(path, "cannot set the owner") }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let count = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && Glibc.errno == EINTR { continue }
                guard count > 0 else { throw SecureFileError.errno(path, "cannot write") }
                offset += count
            }
        }
        guard fsync(fd) == 0 else { throw SecureFileError.errno(path, "cannot flush") }
        guard renameat(directory, temporary, directory, name) == 0 else { throw SecureFileError.errno(path, "cannot rename into place") }
        written = true
        fsync(directory)
    }

    /// Opens a log file for appending, creating it with `mode`; a link in its place is refused (`O_NOFOLLOW`).
    public static func openLog(_ path: String, mode: mode_t = 0o640) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SecureFileError.errno(path, "cannot open the log file") }
        return fd
    }

    /// Changes the owner of the regular file at `path` through a descriptor opened with `O_NOFOLLOW`: a link
    /// planted in its place is refused, never followed.
    public static func changeOwner(_ path: String, uid: uid_t, gid: gid_t) throws {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw SecureFileError.errno(path, "cannot open to change its owner") }
        defer { close(fd) }
        guard fchown(fd, uid, gid) == 0 else { throw SecureFileError.errno(path, "cannot change its owner") }
    }

    /// Reads a secret file (a password, a token), refusing one that is not a regular file owned by root (or by
    /// the caller) with mode 0600 or narrower, or that is a link: such a file is readable by others or not the
    /// operator's. At most `limit` bytes.
    public static func readSecret(_ path: String, limit: Int = 64 * 1024) throws -> Data {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if Glibc.errno == ELOOP { throw SecureFileError(path: path, reason: "is a symbolic link; give the file itself") }
            throw SecureFileError.errno(path, "cannot open")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SecureFileError.errno(path, "cannot stat") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SecureFileError(path: path, reason: "is not a regular file") }
        guard info.st_uid == 0 || info.st_uid == geteuid() else {
            throw SecureFileError(path: path, reason: "is owned by uid \(info.st_uid), not root")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw SecureFileError(
                path: path, reason: "has mode \(String(info.st_mode & 0o777, radix: 8)); a secret file must be 0600 or narrower (chmod 600)")
        }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var total = 0
        while total <= limit {
            let count = read(fd, &bytes[total], limit + 1 - total)
            if count < 0 && Glibc.errno == EINTR { continue }
            if count <= 0 { break }
            total += count
        }
        guard total <= limit else { throw SecureFileError(path: path, reason: "is larger than \(limit) bytes") }
        return Data(bytes[0..<total])
    }
}

/// A folder only root (or the caller) can write, for khactl's private state: made 0700 when missing, and refused
/// when it is a link, owned by another user, or writable by others. Entries in it are walked and removed through
/// descriptors (`openat`, `unlinkat`, no path walks), so nothing an unprivileged user planted is ever removed or
/// followed.
public struct PrivateFolder: Sendable {
    /// The folder's path.
    public let path: String

    /// khactl's folder for its state under /run (root), or under `$XDG_RUNTIME_DIR` or the temporary folder for
    /// other users.
    public static func runtime(_ name: String) throws -> PrivateFolder {
        if geteuid() == 0 {
            _ = try PrivateFolder(path: "/run/khactl", create: true)
            return try PrivateFolder(path: "/run/khactl/\(name)", create: true)
        }
        let base = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.temporaryDirectory.path
        return try PrivateFolder(path: "\(base)/khactl-\(geteuid())-\(name)", create: true)
    }

    /// Checks (and with `create`, makes) the folder at `path`.
    public init(path: String, create: Bool) throws {
        self.path = path
        if create && mkdir(path, 0o700) != 0 && errno != EEXIST { throw SecureFileError.errno(path, "cannot make the folder") }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw SecureFileError.errno(path, "cannot stat") }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw SecureFileError(path: path, reason: "is not a folder (a link or a file is in its place)") }
        guard info.st_uid == geteuid() else { throw SecureFileError(path: path, reason: "is owned by uid \(info.st_uid), not by this user") }
        guard info.st_mode & 0o022 == 0 else {
            throw SecureFileError(path: path, reason: "is writable by others (mode \(String(info.st_mode & 0o777, radix: 8)))")
        }
    }

    /// Removes the entries named `name` (a folder of this user's, mode 0700, not a link) for which `abandoned`
    /// holds, given a descriptor of the entry. Anything else is left alone.
    public func removeEntries(where matches: (String) -> Bool, abandoned: (Int32) -> Bool) {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { return }
        defer { close(directory) }
        for name in PrivateFolder.names(in: directory) where matches(name) {
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFDIR,
                info.st_uid == geteuid(), info.st_mode & 0o777 == 0o700
            else { continue }
            let entry = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard entry >= 0 else { continue }
            let remove = abandoned(entry)
            close(entry)
            if remove { PrivateFolder.removeTree(directory, name) }
        }
    }

    /// The names in the folder open as `directory` (its descriptor stays open).
    static func names(in directory: Int32) -> [String] {
        let copy = dup(directory)
        guard copy >= 0, let stream = fdopendir(copy) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes `name` under `directory` and everything in it, through descriptors; links are removed, never
    /// followed.
    static func removeTree(_ directory: Int32, _ name: String) {
        let entry = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if entry >= 0 {
            for child in names(in: entry) {
                var info = stat()
                if fstatat(entry, child, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFDIR {
                    removeTree(entry, child)
                } else {
                    unlinkat(entry, child, 0)
                }
            }
            close(entry)
            unlinkat(directory, name, AT_REMOVEDIR)
        } else {
            unlinkat(directory, name, 0)
        }
    }
}
