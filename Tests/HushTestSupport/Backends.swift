import Foundation
import HushCore
import HushStore
import Synchronization
import Testing

/// A backend the store and server suites run against. Adding one here (and to `available`)
/// runs every suite marked `.everyBackend` against it.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    /// A PostgreSQL server named by `HUSH_TEST_POSTGRES_URL` (`.ci/run` starts one with
    /// `scripts/postgres.sh`); each test gets a database of its own there, dropped after it.
    case postgres

    /// The backend the running test uses: set by the `.everyBackend` trait.
    @TaskLocal public static var current: Backend = .sqlite

    /// The backends this machine can run: every one, or those `HUSH_TEST_BACKENDS` names
    /// (comma-separated), to run one alone.
    public static var available: [Backend] {
        let named = ProcessInfo.processInfo.environment["HUSH_TEST_BACKENDS"]?.split(separator: ",").compactMap { Backend(rawValue: String($0)) }
        let wanted = named.map { $0.isEmpty ? allCases : $0 } ?? allCases
        return wanted.filter { $0 != .postgres || PostgresServer.url != nil }
    }

    public var description: String { rawValue }

    /// A new, empty database of this backend, removed when the test's scope ends.
    public func newDatabase() async throws -> TestDatabase {
        switch self {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hush-tests-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            TestScope.onEnd { try? FileManager.default.removeItem(at: folder) }
            return TestDatabase(backend: self, location: folder.appendingPathComponent("hush.sqlite").path)
        case .postgres:
            let url = try await PostgresServer.createDatabase()
            return TestDatabase(backend: self, location: url)
        }
    }
}

/// One test database: opened as often as a test likes (a second process, a restart).
public struct TestDatabase: Sendable {
    public let backend: Backend
    /// Where it is: a file path for SQLite, a URL for PostgreSQL.
    public let location: String

    public init(backend: Backend, location: String) {
        self.backend = backend
        self.location = location
    }

    /// Opens it; the store is closed when the test's scope ends.
    public func open(
        erasureKey: ErasureKey, clock: TestClock, loadsIndex: Bool = true, secretKey: SecretKey? = nil, indexSnapshot: String? = nil
    ) async throws -> any Store {
        let store: any Store
        switch backend {
        case .sqlite:
            var configuration = SQLiteStore.Configuration(path: location, erasureKey: erasureKey, now: clock.read)
            if let secretKey { configuration.secretKey = secretKey }
            configuration.loadsIndex = loadsIndex
            configuration.indexSnapshot = indexSnapshot
            store = try await SQLiteStore(configuration)
        case .postgres:
            var configuration = PostgresStore.Configuration(url: location, erasureKey: erasureKey, now: clock.read)
            if let secretKey { configuration.secretKey = secretKey }
            configuration.loadsIndex = loadsIndex
            configuration.indexSnapshot = indexSnapshot
            configuration.poolSize = 4
            store = try await PostgresStore(configuration)
        }
        TestScope.onEnd { try? await store.close() }
        return store
    }
}

/// What a test leaves behind (stores, folders, processes), cleaned up when it ends, passed or
/// failed. The backend traits (`.everyBackend`, `.sqliteOnly`, `.postgresOnly`) open one per test.
public final class TestScope: Sendable {
    private let cleanups = Mutex<[(registeredAt: String, run: @Sendable () async -> Void)]>([])
    /// What the test is doing, for `watchdogLimit`: its body, or which cleanup it awaits.
    private let phase = Mutex("its body")

    /// A test still running after this long (the slowest take about 4 minutes on a loaded
    /// machine) says where it is on standard error, once: a suspension nothing resumes leaves no
    /// thread to inspect, so this is what a hung run tells.
    static let watchdogLimit: Duration = .seconds(600)

    @TaskLocal static var current: TestScope?

    /// Runs `cleanup` when the current test ends (last registered, first run). Outside a test
    /// scope it never runs; the suites all open one.
    public static func onEnd(fileID: String = #fileID, line: Int = #line, _ cleanup: @escaping @Sendable () async -> Void) {
        current?.cleanups.withLock { $0.append(("\(fileID):\(line)", cleanup)) }
    }

    static func run(_ name: String, _ body: () async throws -> Void) async throws {
        let scope = TestScope()
        let watchdog = Task.detached {
            guard (try? await Task.sleep(for: watchdogLimit)) != nil else { return }
            let message = "⏱ \(name) still running after \(watchdogLimit), in \(scope.phase.withLock { $0 })\n"
            FileHandle.standardError.write(Data(message.utf8))
        }
        defer { watchdog.cancel() }
        do {
            try await $current.withValue(scope) { try await body() }
        } catch {
            await scope.end()
            throw error
        }
        await scope.end()
    }

    private func end() async {
        let taken = cleanups.withLock { taken in defer { taken = [] }; return taken }
        for (offset, cleanup) in taken.enumerated().reversed() {
            phase.withLock { $0 = "cleanup \(offset + 1) of \(taken.count), registered at \(cleanup.registeredAt)" }
            await cleanup.run()
        }
    }
}

/// Runs each test of a suite once per backend (`Backend.available`), each run in a scope that
/// cleans up after it.
public struct BackendTrait: SuiteTrait, TestTrait, TestScoping {
    let backends: @Sendable () -> [Backend]

    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // A suite, or a test function as a whole: its cases get their own scope.
        guard testCase != nil else { return try await function() }
        for backend in backends() {
            try await TestSlots.shared.taking {
                try await Backend.$current.withValue(backend) {
                    try await TestScope.run("\(test.name) on \(backend)") { try await function() }
                }
            }
        }
    }
}

extension Trait where Self == BackendTrait {
    /// Every test runs against every available backend, and cleans up after itself.
    public static var everyBackend: BackendTrait { BackendTrait(backends: { Backend.available }) }
    /// Every test runs once, on SQLite (what it tests is SQLite's), and cleans up after itself.
    public static var sqliteOnly: BackendTrait { BackendTrait(backends: { [.sqlite] }) }
    /// Every test runs once, on PostgreSQL (what it tests is many nodes on one server); pair it
    /// with `.enabled(if: PostgresServer.url != nil, …)` so it is reported skipped without one.
    public static var postgresOnly: BackendTrait { BackendTrait(backends: { Backend.available.filter { $0 == .postgres } }) }
}

/// At most `width` test runs with stores, servers and processes at once (`HUSH_TEST_WIDTH`,
/// 12 by default); the others wait their turn, suspended. Swift Testing starts every test at
/// once: some 250 runs, each opening stores (GRDB's queues and their threads), servers and
/// processes on two cores. Two CI runs ended with a few tests suspended for good and not one
/// worker thread left to resume them (gdb: no thread blocked anywhere; a 10-minute watchdog
/// task never ran either), which points at libdispatch's pool: it starts no worker beyond its
/// thread limit, and work queued then waits for a wake-up that may not come. Fewer tests at once
/// keep the process far below that limit.
actor TestSlots {
    static let shared = TestSlots(width: ProcessInfo.processInfo.environment["HUSH_TEST_WIDTH"].flatMap { Int($0) } ?? 12)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(width: Int) {
        free = max(width, 1)
    }

    nonisolated func taking(_ body: () async throws -> Void) async throws {
        await take()
        do {
            try await body()
        } catch {
            await give()
            throw error
        }
        await give()
    }

    private func take() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func give() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
