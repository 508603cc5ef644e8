// A CPG group member in a process of its own, for the multi-process CPG tests.
//
//   cpg-peer NETNS GROUP TAG COUNT MEMBERS
//
// With CPG_PEER_RAW=1 in its environment it sends TAG itself, COUNT times (a forged message, for the tests).
//
// Joins GROUP through the corosync in network namespace NETNS, prints `ready NODEID PID`, waits until the
// group has MEMBERS members, multicasts COUNT messages `TAG-0` ... and prints every delivered message as
// `msg PAYLOAD` and every configuration change as `confchg MEMBERS`. Runs until killed.
import Corosync
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 6, let count = Int(arguments[4]), let wanted = Int(arguments[5]) else {
    FileHandle.standardError.write(Data("usage: cpg-peer NETNS GROUP TAG COUNT MEMBERS\n".utf8))
    exit(2)
}

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

do {
    let cpg = try CPG(endpoint: .networkNamespace(arguments[1]), totemChanges: false)
    try cpg.join(CPGGroupName(arguments[2]))
    emit("ready \(try cpg.localNodeID()) \(getpid())")
    var sent = false
    for try await event in cpg.events {
        switch event {
        case .configurationChange(let change):
            emit("confchg \(change.members.count)")
            if !sent && change.members.count >= wanted {
                sent = true
                let raw = ProcessInfo.processInfo.environment["CPG_PEER_RAW"] == "1"
                for index in 0..<count {
                    try cpg.send(Array((raw ? arguments[3] : "\(arguments[3])-\(index)").utf8))
                }
            }
        case .message(let message):
            emit("msg \(String(decoding: message.bytes, as: UTF8.self))")
        case .totemChange:
            break
        }
    }
    emit("end")
} catch {
    emit("error \(error)")
    exit(1)
}
