import Foundation
import Hummingbird
import Synchronization

/// Counts requests per IP in one-minute windows; the public pages refuse an IP over its limit
/// with 429 until the window turns.
final class RateLimiter: Sendable {
    private struct Window {
        var start: ContinuousClock.Instant
        var count: Int
    }

    let perMinute: Int
    private let windows = Mutex<[String: Window]>([:])

    init(perMinute: Int) {
        self.perMinute = perMinute
    }

    /// Counts a request; false when the IP is over its limit.
    func allow(_ ip: String, now: ContinuousClock.Instant = .now) -> Bool {
        windows.withLock { windows in
            if windows.count > 100_000 {
                windows = windows.filter { now - $0.value.start < .seconds(60) }
            }
            var window = windows[ip] ?? Window(start: now, count: 0)
            if now - window.start >= .seconds(60) { window = Window(start: now, count: 0) }
            window.count += 1
            windows[ip] = window
            return window.count <= perMinute
        }
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
        var key = context.remoteIP
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
