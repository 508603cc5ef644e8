import Foundation
import Testing
import TestSupport

/// The shell completions `Scripts/install-man.sh` installs come from the argument parser: every command is in them.
@Suite("shell completions")
struct CompletionTests {
    @Test("bash, zsh and fish completion scripts name the product's commands and the lab's", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let result = try runKhactl(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result.stderr)")
        for command in ["bootstrap", "apply", "node", "watch", "witness", "lab"] {
            #expect(result.stdout.contains(command), "\(shell): no \(command)")
        }
    }

    @Test("an unknown shell is refused with the parser's message")
    func unknownShell() throws {
        let result = try runKhactl(["--generate-completion-script", "tcsh"])
        #expect(result.status != 0)
        #expect(result.stdout == "")
    }
}
