import Foundation
import Testing
@testable import HushServer

struct RateLimiterTests {
    @Test func aKeyOverItsLimitWaitsForTheNextWindow() {
        let start = ContinuousClock.now
        let limiter = RateLimiter(perMinute: 2, now: start)
        #expect([limiter.allow("a", now: start), limiter.allow("a", now: start), limiter.allow("a", now: start)] == [true, true, false])
        #expect(limiter.allow("b", now: start), "another key has its own count")
        #expect(limiter.allow("a", now: start + .seconds(60)), "the next window starts again")
    }

    /// A full table lets a new key through uncounted: no request pays for scanning it, and
    /// filling it from many addresses shuts nobody out. Keys counted before stay counted.
    @Test func aFullTableCountsNoNewKeyAndShutsNobodyOut() {
        let start = ContinuousClock.now
        let limiter = RateLimiter(perMinute: 1, now: start)
        #expect(limiter.allow("first", now: start))
        for index in 1..<RateLimiter.maximumKeys { _ = limiter.allow("k\(index)", now: start) }
        #expect((0..<5).allSatisfy { _ in limiter.allow("late", now: start) })
        #expect(!limiter.allow("first", now: start))
        #expect(limiter.allow("first", now: start + .seconds(61)))
    }

    /// One host is given an IPv6 /64: its addresses share a count.
    @Test func anIPv6AddressCountsByItsSlash64() {
        #expect(RateLimiter.key(forIP: "2001:db8:1:2:aaaa::1") == RateLimiter.key(forIP: "2001:db8:1:2:bbbb::9"))
        #expect(RateLimiter.key(forIP: "2001:db8:1:2::1") != RateLimiter.key(forIP: "2001:db8:1:3::1"))
        #expect(RateLimiter.key(forIP: "192.0.2.7") == "192.0.2.7")
    }
}
