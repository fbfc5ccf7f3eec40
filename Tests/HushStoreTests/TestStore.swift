import Foundation
import HushCore
import HushTestSupport
@testable import HushStore

/// A store on a new database of the test's backend, with an organization to work in. The store
/// is closed and the database removed when the test ends.
struct TestStore {
    static let erasureKey = ErasureKey.random()

    let store: any Store
    let database: TestDatabase
    let organization: Organization
    let clock: TestClock

    /// A new database, or `database` opened again (a restart, a second process).
    init(
        database: TestDatabase? = nil, organization name: String = "acme", settings: OrganizationSettings = OrganizationSettings(),
        clock: TestClock = TestClock(), indexSnapshot: String? = nil
    ) async throws {
        let database = if let database { database } else { try await Backend.current.newDatabase() }
        let store = try await database.open(erasureKey: Self.erasureKey, clock: clock, indexSnapshot: indexSnapshot)
        self.store = store
        self.database = database
        self.clock = clock
        if let existing = try await store.organization(named: name) {
            self.organization = existing
        } else {
            self.organization = try await store.createOrganization(named: name, settings: settings)
        }
    }

    static func open(_ database: TestDatabase, clock: TestClock = TestClock()) async throws -> any Store {
        try await database.open(erasureKey: erasureKey, clock: clock)
    }

    var id: OrganizationID { organization.id }

    /// The index every backend answers checks from.
    var indexed: IndexedStore { (store as! any IndexBacked).indexed }

    /// What SQLite alone has (its file, its pool): a test that reads it tests SQLite.
    var sqlite: SQLiteStore { store as! SQLiteStore }

    /// Runs SQL underneath the store (see `rawSQL`).
    func sql(_ text: String) async throws -> [[String?]] {
        try await rawSQL(text, on: store)
    }

    func tableNames() async throws -> [String] {
        try await HushTestSupport.tableNames(on: store)
    }

    /// The tables with a row holding any of `texts` (compared in lower case), once per row.
    func tablesHolding(_ texts: String...) async throws -> [String] {
        var tables: [String] = []
        for table in try await tableNames() {
            for row in try await sql("SELECT * FROM \(table)")
            where row.contains(where: { cell in texts.contains { (cell ?? "").lowercased().contains($0.lowercased()) } }) {
                tables.append(table)
            }
        }
        return tables
    }

    func optOut(
        _ address: String, _ channel: String = "email", scope: String = "", list: ListID? = nil, source: Source = .api,
        evidence: Evidence = Evidence()
    ) async throws -> OptOutOutcome {
        try await store.record(
            OptOut(
                subject: .address(Address(parsing: address, region: .us)), channel: ChannelSelection(parsing: channel),
                scope: Scope(parsing: scope), list: list, source: source, actor: "test", evidence: evidence),
            in: id)
    }

    func check(_ address: String, _ channel: HushCore.Channel = .email, scope: String = "", lists: Set<ListID> = []) throws -> Decision {
        try store.decision(
            for: Address(parsing: address, region: .us), in: id,
            query: CheckQuery(channel: channel, scope: Scope(parsing: scope), lists: lists))
    }

    /// Asks `blocks(for:)`, the check itself, where `check` asks for a decision.
    func isBlocked(_ address: String, _ channel: HushCore.Channel = .email, scope: String = "", lists: Set<ListID> = []) throws -> Bool {
        try !store.blocks(
            for: Address(parsing: address, region: .us), in: id,
            query: CheckQuery(channel: channel, scope: Scope(parsing: scope), lists: lists)
        ).isEmpty
    }
}
