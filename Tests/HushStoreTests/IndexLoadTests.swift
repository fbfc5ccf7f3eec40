import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// The load at start reads every suppression from its stored bytes (SQLite's columns in place,
/// PostgreSQL's packed chunks): after a restart, every check answers as the running index did.
@Suite(.everyBackend) struct IndexLoadTests {
    @Test func aRestartedIndexAnswersEveryCheckAsTheRunningOneDid() async throws {
        let test = try await TestStore(settings: OrganizationSettings(granularOptOuts: true))
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "newsletter"))
        // A contact id may hold spaces and line breaks: the PostgreSQL load counts keys, it does not split them.
        let crm = try ContactID(parsing: "crm 7\nwest")
        _ = try await test.store.link([Address(parsing: "dave@example.com")], to: crm, in: test.id)
        let optOuts: [OptOut] = try [
            OptOut(subject: .address(Address(parsing: "ann@example.com")), channel: .only(.email), scope: Scope(parsing: "brand/rep-7"), actor: "t"),
            OptOut(subject: .address(Address(parsing: "+14155550100")), channel: .only(.sms), source: .keyword, actor: "t"),
            OptOut(subject: .address(Address(parsing: "+14155550100")), channel: .only(.voice), source: .rep, actor: "t", hold: true),
            OptOut(subject: .address(Address(parsing: "bob@example.com")), channel: .all, scope: Scope(parsing: "brand"), actor: "t"),
            OptOut(subject: .address(Address(parsing: "carol@example.com")), channel: .only(.email), list: news.id, source: .import, actor: "t"),
            OptOut(subject: .contact(crm), channel: .all, source: .crm, actor: "t"),
        ]
        for optOut in optOuts { _ = try await test.store.record(optOut, in: test.id) }
        let addresses = ["ann@example.com", "+14155550100", "bob@example.com", "carol@example.com", "dave@example.com", "eve@example.com"]
        let queries = try [
            CheckQuery(channel: .email), CheckQuery(channel: .sms), CheckQuery(channel: .voice),
            CheckQuery(channel: .email, scope: Scope(parsing: "brand/rep-7")), CheckQuery(channel: .email, scope: Scope(parsing: "brand/rep-8")),
            CheckQuery(channel: .email, lists: [news.id]),
        ]
        func decisions(_ store: any Store, _ organization: OrganizationID) throws -> [Decision.Blocks] {
            try addresses.flatMap { address in
                try queries.map { try store.decision(for: Address(parsing: address), in: organization, query: $0).blockedBy }
            }
        }
        let running = try decisions(test.store, test.id)
        #expect(running.filter { !$0.isEmpty }.count >= 12, "most of the matrix is blocked by something")
        #expect(running.flatMap { $0 }.contains { $0.hold })
        #expect(running.flatMap { $0 }.contains { $0.contact == crm })
        try await test.store.close()
        let reopened = try await TestStore(database: test.database)
        #expect(reopened.indexed.indexedCount == optOuts.count)
        #expect(try decisions(reopened.store, reopened.id) == running)
    }
}
