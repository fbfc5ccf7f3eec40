import Foundation

/// When a failed delivery is tried again: after about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
/// 20 h and 24 h, each delay spread by ±10 % so a receiver coming back is not hit by every
/// endpoint's backlog at once. After the last delay's attempt fails the delivery is dead.
public struct WebhookRetryPolicy: Hashable, Sendable {
    public static let standardDelays: [Double] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400]
    /// The longest a `Retry-After` header may put the next attempt off.
    public static let maximumRetryAfter: Double = 86_400

    /// Seconds to wait after the first, second, … failed attempt.
    public var delays: [Double]
    /// The fraction each delay is spread by, either way.
    public var jitter: Double

    public init(delays: [Double] = Self.standardDelays, jitter: Double = 0.1) {
        self.delays = delays
        self.jitter = jitter
    }

    /// `HUSH_WEBHOOK_RETRY_DELAYS`: comma-separated seconds, such as `1,2,4`.
    public init(parsing text: String) throws(HushError) {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var delays: [Double] = []
        for part in parts {
            guard let seconds = Double(part), seconds >= 0, seconds <= 7 * 86_400 else {
                throw .invalid("HUSH_WEBHOOK_RETRY_DELAYS", "\"\(part)\" is not a number of seconds between 0 and 604800")
            }
            delays.append(seconds)
        }
        guard !delays.isEmpty else {
            throw .invalid("HUSH_WEBHOOK_RETRY_DELAYS", "give at least one delay in seconds, such as 5,300,1800")
        }
        self.init(delays: delays)
    }

    /// Every attempt a delivery gets: the first and one per delay.
    public var attempts: Int { delays.count + 1 }

    /// Seconds until the next attempt after `attempt` (1 for the first) failed; nil when that
    /// was the last. A receiver's `Retry-After` takes the schedule's place, within a day.
    public func delay<G: RandomNumberGenerator>(afterAttempt attempt: Int, retryAfter: Double?, using generator: inout G) -> Double? {
        guard attempt >= 1, attempt <= delays.count else { return nil }
        if let retryAfter {
            return min(max(retryAfter, 0), Self.maximumRetryAfter)
        }
        let base = delays[attempt - 1]
        guard jitter > 0, base > 0 else { return base }
        return base * Double.random(in: (1 - jitter)...(1 + jitter), using: &generator)
    }

    public func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double? {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, retryAfter: retryAfter, using: &generator)
    }

    /// A `Retry-After` header's seconds from `now`: delay-seconds or an HTTP date (RFC 9110).
    public static func retryAfter(_ header: String, now: Date) -> Double? {
        let text = header.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text) { return seconds >= 0 ? Double(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: text) else { return nil }
        return max(date.timeIntervalSince(now), 0)
    }
}
