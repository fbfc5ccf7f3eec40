import Foundation
import Synchronization

/// A clock tests move by hand, given to the store and the server as their one clock.
///
/// A frozen clock (the default) stands still until advanced. A flowing one follows real time
/// plus what the test added: what a test waits for (a retry due in a minute) comes when the
/// test advances it, never by how fast the machine is.
public final class TestClock: Sendable {
    private let offset: Mutex<TimeInterval>
    private let start: Date?

    /// A frozen clock, at `start`.
    public init(_ start: Date = Date(timeIntervalSince1970: 1_780_000_000)) {
        self.start = start
        self.offset = Mutex(0)
    }

    private init(flowing: Void) {
        self.start = nil
        self.offset = Mutex(0)
    }

    /// A clock that follows real time, plus what the test advances it by.
    public static func flowing() -> TestClock { TestClock(flowing: ()) }

    public var now: Date { (start ?? Date()).addingTimeInterval(offset.withLock { $0 }) }

    public func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }

    /// The clock as the store and the server take it.
    public var read: @Sendable () -> Date { { self.now } }
}
