import Foundation
import HushCore
import HushStore

/// Measures the store and its index: `swift run -c release hush-bench [entries...]`.
/// For each size it seeds a fresh SQLite file, loads it, and prints checks per second,
/// memory per entry, load time and durable writes per second. `--only=checks` or `--only=writes`
/// runs one part (`--only=writes.single`, `.concurrent` or `.batch` one kind of write); `--only=addresses` measures address parsing alone; `--only=fixture` seeds,
/// checks the seeded rows against the store's own (see `Fixture.verify`) and stops.
/// `--only=crm [records]` runs CRM sync against the emulators (see `CRMBenchmark`).
/// `--only=console` times the console's overview over HTTP on the seeded store.
/// `--postgres=URL` runs it all on PostgreSQL instead (emptying that database first), and adds
/// the cross-node lag (`--only=lag` alone).
@main
struct HushBench {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let sizes = arguments.compactMap { Int($0) }
        let only = arguments.first { $0.hasPrefix("--only=") }.map { String($0.dropFirst("--only=".count)) }
        let folder = ProcessInfo.processInfo.environment["HUSH_BENCH_DIR"] ?? NSTemporaryDirectory()
        print("hush-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores")
        if only == "addresses" { return Addresses().run() }
        if only == "crm" { return try await CRMBenchmark(records: sizes.first ?? 100_000, folder: folder).run() }
        let postgres = arguments.first { $0.hasPrefix("--postgres=") }.map { String($0.dropFirst("--postgres=".count)) }
        for size in sizes.isEmpty ? [1_000_000, 10_000_000] : sizes {
            if let postgres {
                try await PostgresBenchmark(entries: size, url: postgres, only: only).run()
                continue
            }
            let path = (folder as NSString).appendingPathComponent("hush-bench-\(size).sqlite")
            try await Benchmark(entries: size, path: path, only: only).run()
        }
    }
}

struct Benchmark {
    let entries: Int
    let path: String
    /// `checks` or `writes` to run one part only.
    let only: String?
    /// `HUSH_BENCH_KEEP=1` keeps the seeded file and reuses it on the next run (a fixed erasure
    /// key, so the file stays readable): for profiling one part at 10 M without seeding each time.
    let keeps = benchKeeps
    let erasureKey = benchErasureKey()

    func run() async throws {
        print("\n== \(entries.formatted()) suppressed addresses ==")
        if !keeps || !FileManager.default.fileExists(atPath: path) {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            let seedTime = try await measure { try await Fixture.seed(path: path, entries: entries, erasureKey: erasureKey) }
            report("seed database (bulk SQL)", "\(seconds(seedTime)) s")
        }

        let before = residentBytes()
        var loaded: SQLiteStore?
        var configuration = SQLiteStore.Configuration(path: path, erasureKey: erasureKey)
        configuration.indexSnapshot = path + ".index"
        try? FileManager.default.removeItem(atPath: path + ".index")
        let loadTime = try await measure {
            loaded = try await SQLiteStore(configuration)
        }
        let store = try unwrap(loaded)
        let after = residentBytes()
        report("index load from database", "\(seconds(loadTime)) s for \(store.indexedCount.formatted()) entries")
        report("memory per entry", "\((after - before) / max(store.indexedCount, 1)) bytes (resident growth)")

        let organization = try unwrap(try await store.organization(named: "bench"))
        try await Fixture.verify(store, organization: organization, entries: entries)
        report("seeded rows read as written ones", "yes")
        if only == "fixture" || only == "console" {
            if only == "console" { try await ConsoleBenchmark(store: store, organization: organization).run() }
            try await store.close()
            if !keeps { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            return
        }
        if !Writes<SQLiteStore>.selected(by: only) { try await Checks(store: store, organization: organization.id, entries: entries).run() }
        if only != "checks" { try await Writes(store: store, organization: organization.id, only: only).run() }
        try await restart(store, reopen: { try await SQLiteStore(configuration) }, snapshot: path + ".index")
        if !keeps { for suffix in ["", "-wal", "-shm", ".index"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
    }
}

/// Closes `store` (which writes its index snapshot) and opens it again from the snapshot.
func restart<Backend: Store>(_ store: Backend, reopen: () async throws -> Backend, snapshot: String) async throws {
    let closeTime = try await measure { try await store.close() }
    let size = (try? FileManager.default.attributesOfItem(atPath: snapshot)[.size] as? Int) ?? 0
    report("close, writing the index snapshot", "\(seconds(closeTime)) s (\(size / 1_000_000) MB)")
    var reopened: Backend?
    let openTime = try await measure { reopened = try await reopen() }
    let store = try unwrap(reopened)
    report("restart from the snapshot", "\(seconds(openTime)) s for \(store.indexedCount.formatted()) entries")
    try await store.close()
}

/// `HUSH_BENCH_KEEP=1`: runs keep their seeded database and reuse it.
let benchKeeps = ProcessInfo.processInfo.environment["HUSH_BENCH_KEEP"] == "1"

/// A fixed key when runs keep their database, so a kept one stays readable.
func benchErasureKey() -> ErasureKey {
    benchKeeps ? try! ErasureKey(secret: Array(repeating: 7, count: 32)) : .random()
}

func measure(_ body: () async throws -> Void) async rethrows -> Duration {
    let start = ContinuousClock.now
    try await body()
    return ContinuousClock.now - start
}

func seconds(_ duration: Duration) -> String {
    String(format: "%.2f", duration.inSeconds)
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func perSecond(_ count: Int, _ duration: Duration) -> String {
    Int(Double(count) / duration.inSeconds).formatted()
}

func report(_ what: String, _ figure: String) {
    print("  " + what.padding(toLength: 44, withPad: " ", startingAt: 0) + figure)
}

func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = statm.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

struct MissingValue: Error {}

func unwrap<T>(_ value: T?) throws -> T {
    guard let value else { throw MissingValue() }
    return value
}
