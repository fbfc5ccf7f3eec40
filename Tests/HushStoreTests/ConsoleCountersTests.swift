import Foundation
import HushCore
import HushTestSupport
import Synchronization
import Testing
@testable import HushStore

/// The console's counters agree with the rows they count, whatever wrote them: on SQLite the
/// writing transaction keeps them (one upsert per group), on PostgreSQL statement triggers do.
@Suite(.everyBackend) struct ConsoleCountersTests {
    @Test func countersMatchARecountAfterEveryKindOfWrite() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "newsletter", channels: [.email]))
        let addresses = try (0..<40).map { try Address(parsing: "p\($0)@example.com") }

        // A batch, on two lists and two sources, with a repeat that is already in force.
        _ = try await test.store.record(addresses.prefix(30).map {
            OptOut(subject: .address($0), channel: .only(.email), source: .api, actor: "t")
        } + addresses.prefix(10).map {
            OptOut(subject: .address($0), channel: .only(.email), list: news.id, source: .rep, actor: "t")
        } + [OptOut(subject: .address(addresses[0]), channel: .only(.email), source: .api, actor: "t")], in: test.id)
        // A held opt-out replacing one in force: a suppression removed and one made.
        _ = try await test.store.record(
            OptOut(subject: .address(addresses[1]), channel: .only(.email), source: .rep, actor: "t", hold: true), in: test.id)
        // A contact opt-out reaching its linked addresses' contact, on every channel.
        let crm = try ContactID(parsing: "crm-7")
        _ = try await test.store.link([addresses[35], Address(parsing: "+14155550100")], to: crm, in: test.id)
        _ = try await test.store.record(OptOut(subject: .contact(crm), channel: .all, source: .crm, actor: "t"), in: test.id)
        // Opt-ins lifting two.
        for address in [addresses[2], addresses[3]] {
            _ = try await test.store.record(
                OptIn(subject: .address(address), channel: .only(.email), actor: "admin",
                      consent: Consent(kind: "written_consent", reference: "ticket-1"), authority: .admin),
                in: test.id)
        }
        // An import in chunks, half of it new.
        let chunks = Mutex(Array(addresses[20..<40]).chunked(into: 7).map { chunk in
            chunk.map { OptOut(subject: .address($0), channel: .only(.email), source: .import, actor: "t") }
        })
        _ = try await test.store.importOptOuts(in: test.id) { chunks.withLock { $0.isEmpty ? nil : $0.removeFirst() } }

        let organization = test.id.rawValue
        let suppressions = try await test.sql("""
            SELECT list_id, channel, COUNT(*) FROM suppressions WHERE org_id = \(organization) GROUP BY list_id, channel
            """).map { "\($0[0]!)/\($0[1]!)=\($0[2]!)" }
        let counted = try await test.store.suppressionCounts(in: test.id).map { "\($0.list.rawValue)/\($0.channel)=\($0.suppressions)" }
        #expect(counted.sorted() == suppressions.sorted())
        #expect(counted.count == 3, "default/email, newsletter/email and default/all: \(counted)")

        let events = try await test.sql("""
            SELECT kind, channel, source, COUNT(*) FROM ledger WHERE org_id = \(organization) GROUP BY kind, channel, source
            """).map { "\($0[0]!)/\($0[1]!)/\($0[2]!)=\($0[3]!)" }
        let daily = try await test.store.dailyEvents(in: test.id, from: 0).map { "\($0.kind)/\($0.channel)/\($0.source)=\($0.events)" }
        #expect(daily.sorted() == events.sorted())
        #expect(daily.contains("opt_in/email/api=2") && daily.contains("opt_out/all/crm=1"), "\(daily)")
    }
}

extension Array {
    fileprivate func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
