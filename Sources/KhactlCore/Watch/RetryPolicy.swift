/// How often and how patiently a sink retries one item: exponential backoff with "equal jitter".
///
/// Before attempt `n + 1` the pause is drawn uniformly from `[c/2, c]`, where
/// `c = min(maximumDelay, baseDelay * 2^(n-1))`: it grows with every failure, never hammers a receiver that
/// is down, and spreads the retries of watchers on several nodes that failed at the same moment.
package struct RetryPolicy: Hashable, Sendable {
    /// Attempts per item, the first one included (at least 1).
    package var attempts: Int
    /// The ceiling of the first pause.
    package var baseDelay: Duration
    /// The largest ceiling.
    package var maximumDelay: Duration

    /// The webhook sink's default: 5 attempts, pauses of 125-250 ms, 250-500 ms, 0.5-1 s, 1-2 s (at most
    /// 3.75 s of pauses per item).
    package static let webhookDefault = RetryPolicy(attempts: 5, baseDelay: .milliseconds(250), maximumDelay: .seconds(8))

    /// Creates a policy.
    package init(attempts: Int, baseDelay: Duration, maximumDelay: Duration) {
        precondition(attempts >= 1, "a retry policy makes at least one attempt")
        self.attempts = attempts
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// The ceiling of the pause after failed attempt `attempt` (1-based).
    package func ceiling(after attempt: Int) -> Duration {
        var ceiling = baseDelay
        for _ in 1..<max(attempt, 1) {
            ceiling = ceiling * 2
            if ceiling >= maximumDelay { return maximumDelay }
        }
        return min(ceiling, maximumDelay)
    }

    /// The pause after failed attempt `attempt` (1-based); `unit` is a uniform draw from `0...1`.
    package func delay(after attempt: Int, unit: Double = Double.random(in: 0...1)) -> Duration {
        let ceiling = self.ceiling(after: attempt)
        return ceiling / 2 + ceiling * (min(max(unit, 0), 1) / 2)
    }
}
