import Foundation
import Synchronization

/// Starts a process, one at a time in the whole test run. Foundation's `Process.run` crashed
/// (a bad copy inside it) when tests in different suites — the command line's `hush`, the
/// browser's chromedriver and curl — launched processes from several threads at once.
public enum Launch {
    private static let lock = Mutex(())

    public static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }
}
