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

/// Reads from a child's pipe by `read(2)`, retrying when a signal interrupts it. Foundation's
/// `availableData` and `readDataToEndOfFile` end in a `try!` that crashed the test run on
/// EINTR (SIGCHLD from other tests' children arrives often).
public enum PipeReading {
    /// What the next read returns; empty at the end of the stream.
    public static func chunk(_ handle: FileHandle) -> Data {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count >= 0 { return Data(buffer[0..<count]) }
            if errno != EINTR { return Data() }
        }
    }

    /// Everything until the stream ends.
    public static func all(_ handle: FileHandle) -> Data {
        var data = Data()
        while true {
            let next = chunk(handle)
            if next.isEmpty { return data }
            data.append(next)
        }
    }
}
