import Foundation
import Hummingbird
import HushCore
import Synchronization

/// Counts requests per key (an IP, a link) in one-minute windows; a key over its limit is
/// refused with 429 until the window turns. The windows are the limiter's own: every minute the
/// counts start again together, so turning the window costs nothing per request, and at most
/// `maximumKeys` keys are counted in one: past that a new key is let through uncounted rather
/// than refused, so filling the table (from many addresses) cannot shut anyone out, and no
/// request pays for scanning it.
final class RateLimiter: Sendable {
    static let maximumKeys = 100_000

    private struct Window {
        var start: ContinuousClock.Instant
        var counts: [String: Int] = [:]
    }

    let perMinute: Int
    private let window: Mutex<Window>

    init(perMinute: Int, now: ContinuousClock.Instant = .now) {
        self.perMinute = perMinute
        window = Mutex(Window(start: now))
    }

    /// Counts a request; false when the key is over its limit.
    func allow(_ key: String, now: ContinuousClock.Instant = .now) -> Bool {
        window.withLock { window in
            if now - window.start >= .seconds(60) {
                window.counts.removeAll(keepingCapacity: true)
                window.start = now
            }
            guard window.counts[key] != nil || window.counts.count < Self.maximumKeys else { return true }
            let count = window.counts[key, default: 0] + 1
            window.counts[key] = count
            return count <= perMinute
        }
    }

    /// An IP as the limiter counts it: an IPv6 address by its /64, the block one host is given,
    /// so that one host cannot take a new key for every request.
    static func key(forIP text: String) -> String {
        guard let address = IPAddress(parsing: text), address.family == .v6, address.unmappedIPv4 == nil else { return text }
        return address.bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: ".") + "/64"
    }
}

struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = HushRequestContext
    let limiter: RateLimiter
    let links: LinkService

    /// A post to a genuine unsubscribe link (one-click among them) is counted against its link,
    /// never its IP: mail providers send one-clicks for many people from few addresses. Anything
    /// else, made-up links included, counts against the IP.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        var key = RateLimiter.key(forIP: context.remoteIP)
        if request.method == .post, path.hasPrefix("/u/"), !path.hasSuffix("/resubscribe"),
           let link = try? await links.verify(String(path.dropFirst(3))) {
            key = "link:" + link.tokenID
        }
        guard limiter.allow(key) else {
            var response = PageText.render("message", status: .tooManyRequests, [
                "title": PageText.string("too_many_title"), "brand": Brand(nil).values,
                "heading": PageText.string("too_many_title"), "text": PageText.string("too_many_text"),
            ])
            response.headers[.retryAfter] = "60"
            return response
        }
        return try await next(request, context)
    }
}
