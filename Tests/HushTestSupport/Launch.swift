import Foundation

/// A process the tests started: `hush`, chromedriver. Started by `posix_spawn` with every
/// descriptor above standard error closed in the child, not by Foundation's `Process`: on Linux
/// `Process.run` finds the highest open descriptor by copying each `/proc/self/fd` entry's whole
/// 256-byte name, which reads past the end of its directory buffer once the test process holds
/// some 1 300 descriptors (many suites running servers at once) — CI crashed on it with SIGSEGV.
/// swift-subprocess closes descriptors properly but runs a process only for the length of a
/// closure, and a test's server outlives the call that starts it.
public final class Child: @unchecked Sendable {
    public enum TerminationReason: Sendable { case exit, uncaughtSignal }

    /// Where one of the child's standard streams goes.
    public enum Stream {
        /// A pipe: the child gets one end, this process keeps the other.
        case pipe(Pipe)
        case null
    }

    public let processIdentifier: pid_t
    /// The wait status once the child is reaped; guarded by `reaped`.
    private var status: Int32?
    private let reaped = NSCondition()

    /// Starts `executable` with `arguments` (without the program name) and `environment`.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        input: Stream = .null, output: Stream = .null, errors: Stream = .null
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        for (target, stream) in [(STDIN_FILENO, input), (STDOUT_FILENO, output), (STDERR_FILENO, errors)] {
            let source = switch stream {
            case .pipe(let pipe): target == STDIN_FILENO ? pipe.fileHandleForReading.fileDescriptor : pipe.fileHandleForWriting.fileDescriptor
            case .null: null
            }
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        try Self.check(Self.addCloseFrom(&actions, STDERR_FILENO + 1), "closing descriptors")

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, as Foundation's `Process` gives it, and no blocked signals
        // inherited from whichever thread of this process starts it.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        try Self.check(posix_spawn(&pid, executable, &actions, &attributes, argv, envp), "starting \(executable)")
        processIdentifier = pid

        // This process keeps only its own ends of the pipes, so a reader sees the end of the
        // stream when the child exits.
        for (target, stream) in [(STDIN_FILENO, input), (STDOUT_FILENO, output), (STDERR_FILENO, errors)] {
            guard case .pipe(let pipe) = stream else { continue }
            try? (target == STDIN_FILENO ? pipe.fileHandleForReading : pipe.fileHandleForWriting).close()
        }
        Thread.detachNewThread { [self] in
            var status: Int32 = 0
            while waitpid(processIdentifier, &status, 0) == -1 && errno == EINTR {}
            reaped.lock()
            self.status = status
            reaped.broadcast()
            reaped.unlock()
        }
    }

    public var isRunning: Bool {
        reaped.lock()
        defer { reaped.unlock() }
        return status == nil
    }

    public func terminate() { kill(processIdentifier, SIGTERM) }

    /// Blocks the calling thread until the child has exited and been reaped.
    public func waitUntilExit() {
        reaped.lock()
        while status == nil { reaped.wait() }
        reaped.unlock()
    }

    /// The exit code, or the signal that ended it; only once it has exited.
    public var terminationStatus: Int32 {
        let status = exitStatus
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    public var terminationReason: TerminationReason { exitStatus & 0x7f == 0 ? .exit : .uncaughtSignal }

    private var exitStatus: Int32 {
        reaped.lock()
        defer { reaped.unlock() }
        guard let status else { preconditionFailure("\(processIdentifier) is still running") }
        return status
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Glibc
    /// module does not import.
    private static let addCloseFrom: AddCloseFrom = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            preconditionFailure("this glibc has no posix_spawn_file_actions_addclosefrom_np (2.34 or later has)")
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    private static func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw LaunchError(description: "\(what): \(String(cString: strerror(result)))") }
    }
}

public struct LaunchError: Error, CustomStringConvertible {
    public let description: String
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
