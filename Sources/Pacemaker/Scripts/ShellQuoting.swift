/// Shell quoting for display only (plans, logs, `--export pcs`): commands are always run as argument arrays.
public enum ShellQuoting {
    /// `word` as a POSIX shell word: unchanged when it only holds safe characters, single-quoted otherwise.
    public static func quote(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,")
        if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// An argument array as one displayable shell line.
    public static func line(_ argv: [String]) -> String { argv.map(quote).joined(separator: " ") }
}
