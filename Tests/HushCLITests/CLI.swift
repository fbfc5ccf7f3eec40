import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HushCore
import HushStore
import HushTestSupport
import Testing

/// Runs the built `hush` executable against a new database of the test's backend (a file in a
/// folder of its own, or a database on the PostgreSQL server), with the keys in the environment
/// as a deployment of several nodes gives them.
struct CLI {
    static let secret = String(repeating: "5a", count: 32)
    /// The key secrets are sealed under, the same in the CLI and in this process.
    static let secretKey = String(repeating: "3c", count: 32)

    let folder: URL
    let testDatabase: TestDatabase
    /// What `--database` names: a file path, or a PostgreSQL URL.
    var database: String { testDatabase.location }

    /// A new folder and database, removed when the test ends.
    init() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hush-cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        TestScope.onEnd { try? FileManager.default.removeItem(at: folder) }
        self.folder = folder
        testDatabase = switch Backend.current {
        case .sqlite: TestDatabase(backend: .sqlite, location: folder.appendingPathComponent("hush.sqlite").path)
        case .postgres: try await Backend.postgres.newDatabase()
        }
    }

    /// The `hush` binary beside the test bundle in the build folder.
    static var executable: URL {
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("hush").path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("hush")
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `hush` with `arguments` and `--database`, waits for it, and returns what it printed.
    @discardableResult
    func run(_ arguments: [String], database withDatabase: Bool = true, environment: [String: String] = [:]) async throws -> Result {
        let process = try start(arguments, database: withDatabase, environment: environment)
        try process.input.fileHandleForWriting.close()
        return await process.finish()
    }

    struct Running {
        let process: Child
        let input: Pipe
        let output: Pipe
        let errors: Pipe
        /// What a drained process printed so far, both streams (see `start(drained:)`).
        let captured: Captured?

        /// What it printed so far, standard output and error together.
        var printed: String { captured?.text ?? "" }

        /// Waits for the process to end and returns what it printed. It waits on threads of its
        /// own, never on one of the cooperative pool: servers this test process runs (CRM
        /// emulators, webhook receivers) answer on that pool, which has a thread a core, and two
        /// tests waiting on it for their processes left an emulator none. Both streams are read at
        /// once, so a process that fills one pipe while the other is being read does not stall.
        func finish() async -> Result {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    let errorText = ReadAside()
                    Thread.detachNewThread {
                        errorText.data = PipeReading.all(errors.fileHandleForReading)
                        errorText.done.signal()
                    }
                    let out = PipeReading.all(output.fileHandleForReading)
                    errorText.done.wait()
                    process.waitUntilExit()
                    continuation.resume(returning: Result(
                        status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                        stderr: String(decoding: errorText.data, as: UTF8.self)))
                }
            }
        }
    }

    /// One stream read on another thread: `data` is written before `done` is signalled and read
    /// after it is waited for.
    private final class ReadAside: @unchecked Sendable {
        var data = Data()
        let done = DispatchSemaphore(value: 0)
    }

    /// Everything a long-running process prints, read as it comes: a server whose output nobody
    /// reads would block on a full pipe once it had logged 64 KiB.
    final class Captured: Sendable {
        private let data = Mutex(Data())
        private let open = Mutex(0)

        var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
        /// Whether every stream drained has ended (the process exited and all it wrote was read).
        var isFinished: Bool { open.withLock { $0 == 0 } }

        /// Reads on a thread of its own until the process closes the stream: blocking reads,
        /// not a dispatch source (`readabilityHandler`), which crashed libdispatch when the
        /// process was stopped while a read was pending.
        func drain(_ pipe: Pipe) {
            open.withLock { $0 += 1 }
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = PipeReading.chunk(handle)
                    if chunk.isEmpty { break }
                    data.withLock { $0.append(chunk) }
                }
                open.withLock { $0 -= 1 }
            }
        }
    }

    /// Starts `hush`; `drained` reads what it prints as it comes (`Running.printed`), for servers.
    func start(
        _ arguments: [String], database withDatabase: Bool = true, environment extra: [String: String] = [:], drained: Bool = false
    ) throws -> Running {
        var environment = ProcessInfo.processInfo.environment
        environment["HUSH_ERASURE_SECRET"] = Self.secret
        environment["HUSH_SECRET_KEY"] = Self.secretKey
        // `extra` wins; an empty value removes the variable.
        for (name, value) in extra { environment[name] = value.isEmpty ? nil : value }
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        let process = try Child(
            Self.executable.path, arguments + (withDatabase ? ["--database", database] : []), environment: environment,
            input: .pipe(input), output: .pipe(output), errors: .pipe(errors))
        // A test that fails or forgets leaves no process behind: it is stopped when the test ends.
        TestScope.onEnd {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let captured = drained ? Captured() : nil
        captured?.drain(output)
        captured?.drain(errors)
        return Running(process: process, input: input, output: output, errors: errors, captured: captured)
    }

    /// The same database, opened in this process with the CLI's keys; closed when the test ends.
    func store(loadsIndex: Bool = true) async throws -> any Store {
        try await testDatabase.open(
            erasureKey: try ErasureKey(secret: [UInt8](repeating: 0x5a, count: 32)), clock: .flowing(), loadsIndex: loadsIndex,
            secretKey: try SecretKey(bytes: [UInt8](repeating: 0x3c, count: 32)))
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
