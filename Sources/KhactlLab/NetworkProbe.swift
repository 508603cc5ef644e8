import Corosync
import Pacemaker
import KhactlCore
import Foundation
import Synchronization

/// Probes an address from the lab client: ICMP echo (raw socket) and TCP connect, each on its own
/// thread in the switch namespace, recording the times answers came back.
final class ClientProbe: Sendable {
    /// An answer: when the request left and when the answer came back.
    struct Answer {
        let sent: ContinuousClock.Instant
        let received: ContinuousClock.Instant
    }

    struct Answers {
        var sent: [UInt16: ContinuousClock.Instant] = [:]
        var pings: [Answer] = []
        var connects: [Answer] = []
    }

    private let answers = Mutex(Answers())
    private let running = Atomic<Bool>(true)

    /// Starts probing `address` (and `port` over TCP, if given) every `interval`.
    init(namespace: String, address: String, port: UInt16?, interval: Duration = .milliseconds(20)) throws {
        let target = try ClientProbe.socketAddress(address, port: port ?? 0)
        try enter(namespace, "khactl-ping") { [self] in pingLoop(target, interval: interval) }
        if let port {
            let tcpTarget = try ClientProbe.socketAddress(address, port: port)
            try enter(namespace, "khactl-tcp") { [self] in connectLoop(tcpTarget, interval: interval) }
        }
    }

    func stop() { running.store(false, ordering: .relaxed) }

    /// When the first ICMP answer and TCP connect came back to a request sent at or after `instant`
    /// (an answer to an earlier request may still be in flight when a node dies).
    func firstAnswers(after instant: ContinuousClock.Instant) -> (ping: ContinuousClock.Instant?, connect: ContinuousClock.Instant?) {
        answers.withLock { answers in
            (answers.pings.first { $0.sent >= instant }?.received, answers.connects.first { $0.sent >= instant }?.received)
        }
    }

    /// When unanswered echo requests were sent, and every answer so far.
    func unansweredAndAnswered() -> ([ContinuousClock.Instant], [Answer]) {
        answers.withLock { (Array($0.sent.values), $0.pings) }
    }

    /// Forgets every answer so far.
    func reset() { answers.withLock { $0 = Answers() } }

    private static func socketAddress(_ address: String, port: UInt16) throws -> sockaddr_in {
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &target.sin_addr) == 1 else { throw LabError("not an IPv4 address: \(address)") }
        return target
    }

    private func pingLoop(_ target: sockaddr_in, interval: Duration) {
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP))
        guard fd >= 0 else { return }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 10_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let identifier = UInt16(truncatingIfNeeded: getpid() ^ Int32(truncatingIfNeeded: ObjectIdentifier(self).hashValue))
        var sequence: UInt16 = 0
        var nextSend = ContinuousClock.now
        while running.load(ordering: .relaxed) {
            if ContinuousClock.now >= nextSend {
                sequence &+= 1
                var packet = ClientProbe.echoRequest(identifier: identifier, sequence: sequence)
                let sentAt = ContinuousClock.now
                let sentSequence = sequence
                answers.withLock { $0.sent[sentSequence] = sentAt }
                var destination = target
                _ = withUnsafePointer(to: &destination) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, &packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                nextSend = ContinuousClock.now + interval
            }
            var buffer = [UInt8](repeating: 0, count: 1500)
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count >= 28 else { continue }
            let headerLength = Int(buffer[0] & 0x0f) * 4
            guard count >= headerLength + 8, buffer[headerLength] == 0 /* echo reply */ else { continue }
            let replyID = UInt16(buffer[headerLength + 4]) << 8 | UInt16(buffer[headerLength + 5])
            let source = buffer[12..<16]
            let wanted = withUnsafeBytes(of: target.sin_addr) { Array($0) }
            guard replyID == identifier, Array(source) == wanted else { continue }
            let replySequence = UInt16(buffer[headerLength + 6]) << 8 | UInt16(buffer[headerLength + 7])
            let now = ContinuousClock.now
            answers.withLock { answers in
                if let sentAt = answers.sent.removeValue(forKey: replySequence) {
                    answers.pings.append(Answer(sent: sentAt, received: now))
                }
            }
        }
    }

    private func connectLoop(_ target: sockaddr_in, interval: Duration) {
        while running.load(ordering: .relaxed) {
            let started = ContinuousClock.now
            if ClientProbe.connect(target, timeoutMilliseconds: 200) {
                let now = ContinuousClock.now
                answers.withLock { $0.connects.append(Answer(sent: started, received: now)) }
            }
            let elapsed = ContinuousClock.now - started
            if elapsed < interval { Thread.sleep(forTimeInterval: Double((interval - elapsed).components.attoseconds) / 1e18) }
        }
    }

    /// A non-blocking connect that succeeds within the timeout.
    static func connect(_ target: sockaddr_in, timeoutMilliseconds: Int32) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var destination = target
        let result = withUnsafePointer(to: &destination) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }

    static func echoRequest(identifier: UInt16, sequence: UInt16) -> [UInt8] {
        var packet: [UInt8] = [8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8), UInt8(sequence & 0xff)]
        packet += Array("khactl-drill".utf8)
        var sum: UInt32 = 0
        for index in stride(from: 0, to: packet.count, by: 2) {
            sum += UInt32(packet[index]) << 8 | UInt32(index + 1 < packet.count ? packet[index + 1] : 0)
        }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        packet[2] = UInt8(checksum >> 8)
        packet[3] = UInt8(checksum & 0xff)
        return packet
    }
}

/// Which lab nodes have an address configured, read from /proc/PID/net/fib_trie of each node's init
/// (that file shows the network namespace of the process), without starting any process.
enum AddressOwnership {
    /// Whether the namespace of `pid` has `address` as a local address.
    static func has(_ address: String, pid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/fib_trie", encoding: .utf8) else { return false }
        // A local address appears as "|-- ADDRESS" followed by a "/32 host LOCAL" line.
        var lines = text.split(separator: "\n").makeIterator()
        while let line = lines.next() {
            if line.hasSuffix("-- \(address)"), let next = lines.next(), next.contains("host LOCAL") { return true }
        }
        return false
    }
}

/// Starts a probe thread inside the lab switch's network namespace.
private func enter(_ namespace: String, _ name: String, _ body: @escaping @Sendable () -> Void) throws {
    do {
        try NetworkNamespaceThread.start(in: namespace, name: name, body)
    } catch {
        throw LabError(error.description)
    }
}
