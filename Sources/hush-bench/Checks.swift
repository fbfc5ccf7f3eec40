import Foundation
import Synchronization
import HushCore
import HushStore

/// Check throughput from two threads, over addresses spread across the whole index.
/// Generic over the backend `HushBench` opens, so the calls it measures are direct ones.
struct Checks<Backend: Store> {
    let store: Backend
    let organization: OrganizationID
    let entries: Int
    let sampleSize = 1_000_000
    /// Each loop makes at least four million checks, so that a small index's figures are timed
    /// over as long as a large one's.
    var rounds: Int { max(4, 4_000_000 / max(1, min(sampleSize, entries))) }
    /// Times each single-check loop is run over; the median is reported.
    let passes = 3

    func run() async throws {
        var generator = SystemRandomNumberGenerator()
        let indices = (0..<min(sampleSize, entries)).map { _ in Int.random(in: 1...entries, using: &generator) }
        let hits = try indices.map { try Address(parsing: Fixture.address($0)) }
        let queries = indices.map { CheckQuery(channel: Fixture.channel($0)) }
        let misses = try (0..<hits.count).map { try Address(parsing: "nobody\($0)@example.org") }
        let raw = indices.map { Fixture.address($0).uppercased() }

        let blocked = Counter()
        // The single checks ask `blocks(for:)`, the check itself; `decision(for:)` adds the question
        // to the answer, a copy of the address, and is measured once too. The loops read addresses
        // through spans; even so, Swift copies each address out for the call (a retain and a
        // release), which a caller holding its address in a local does not pay.
        let blockedRate = await medianRate(hits.count * rounds) { await singles(hits, queries, counting: blocked) }
        report("single checks/s, blocked addresses", "\(blockedRate); \(blocked.total / passes) blocked a pass")
        let allowedRate = await medianRate(misses.count * rounds) { await singles(misses, [CheckQuery(channel: .email)], counting: blocked) }
        report("single checks/s, allowed addresses", allowedRate)
        let decisionRate = await medianRate(hits.count * rounds) { await singles(hits, queries, decisions: true, counting: blocked) }
        report("single decisions/s, blocked addresses", decisionRate)

        let parseTime = await parallel { worker in
            var count = 0
            for i in half(worker, of: raw.count) {
                if let address = try? Address(parsing: raw[i]), !store.decision(for: address, in: organization, query: queries[i]).allowed {
                    count += 1
                }
            }
            blocked.add(count)
        }
        report("single checks/s, parsing raw input too", "\(perSecond(raw.count, parseTime))")

        let batchSize = 10_000
        let batches = stride(from: 0, to: hits.count - batchSize + 1, by: batchSize).map { Array(hits[$0..<$0 + batchSize]) }
        let batchTime = await parallel { worker in
            var count = 0
            for _ in 0..<rounds {
                for b in stride(from: worker, to: batches.count, by: 2) {
                    count += store.decisions(for: batches[b], in: organization, query: CheckQuery(channel: .email)).count
                }
            }
            blocked.add(count)
        }
        report("batch checks/s (10k per batch)", "\(perSecond(batches.count * batchSize * rounds, batchTime)) addresses")
    }

    /// The median of `passes` rates of `checks` checks timed by `pass`, and each in turn: this
    /// machine's memory latency moves with its neighbours' load from one second to the next, and a
    /// check at ten million entries waits on memory for most of its time.
    func medianRate(_ checks: Int, _ pass: () async -> Duration) async -> String {
        var rates: [Double] = []
        for _ in 0..<passes {
            rates.append(Double(checks) / (await pass()).inSeconds)
        }
        let median = rates.sorted()[passes / 2]
        return "\(Int(median).formatted())  (median of \(passes), in turn: \(rates.map { Int($0).formatted() }.joined(separator: ", ")))"
    }

    /// Checks each address with its query (or with the one query given for all), `rounds` times
    /// over, on two threads, and times it: `blocks(for:)`, or `decision(for:)` when `decisions`
    /// (a branch taken the same way every time).
    func singles(_ addresses: [Address], _ queries: [CheckQuery], decisions: Bool = false, counting blocked: Counter) async -> Duration {
        await parallel { worker in
            var count = 0
            let (addresses, queries) = (addresses.span, queries.span)
            let oneQuery = queries.count == 1
            for _ in 0..<rounds {
                for i in half(worker, of: addresses.count) {
                    let query = oneQuery ? 0 : i
                    let isBlocked = decisions
                        ? !store.decision(for: addresses[i], in: organization, query: queries[query]).allowed
                        : !store.blocks(for: addresses[i], in: organization, query: queries[query]).isEmpty
                    if isBlocked { count += 1 }
                }
            }
            blocked.add(count)
        }
    }

    /// The positions worker 0 or 1 checks: a half each, not every other one. Interleaved, the two
    /// threads retained strings allocated side by side, so each check paid for a cache line
    /// moving between the cores, which a server's threads, each with its own requests, do not.
    func half(_ worker: Int, of count: Int) -> Range<Int> {
        worker == 0 ? 0..<count / 2 : count / 2..<count
    }

    /// Runs `body(worker)` on two threads and times the whole.
    func parallel(_ body: @escaping @Sendable (Int) -> Void) async -> Duration {
        await measure {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<2 { group.addTask { body(worker) } }
            }
        }
    }
}

/// A tally that keeps the checks from being optimized away: each thread counts on its own and
/// adds its count once (a shared counter bumped per check would bounce its cache line between
/// the threads and measure that instead).
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ value: Int) { count.add(value, ordering: .relaxed) }
    var total: Int { count.load(ordering: .relaxed) }
}
