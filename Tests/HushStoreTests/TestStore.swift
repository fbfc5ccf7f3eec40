import Foundation
import HushCore
import Synchronization
@testable import HushStore

/// A store on a fresh SQLite file in a temporary folder, with an organization to work in.
struct TestStore {
    static let erasureKey = ErasureKey.random()

    let store: SQLiteStore
    let path: String
    let organization: Organization
    let clock: TestClock

    init(path: String? = nil, organization name: String = "acme", settings: OrganizationSettings = OrganizationSettings()) async throws {
        let path = path ?? Self.temporaryPath()
        let clock = TestClock()
        let store = try await Self.open(path, clock: clock)
        self.store = store
        self.path = path
        self.clock = clock
        if let existing = try await store.organization(named: name) {
            self.organization = existing
        } else {
            self.organization = try await store.createOrganization(named: name, settings: settings)
        }
    }

    static func open(_ path: String, clock: TestClock = TestClock()) async throws -> SQLiteStore {
        try await SQLiteStore(SQLiteStore.Configuration(path: path, erasureKey: erasureKey, now: { clock.now }))
    }

    static func temporaryPath() -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hush-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("hush.sqlite").path
    }

    var id: OrganizationID { organization.id }

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

    func check(_ address: String, _ channel: Channel = .email, scope: String = "", lists: Set<ListID> = []) throws -> Decision {
        try store.decision(
            for: Address(parsing: address, region: .us), in: id,
            query: CheckQuery(channel: channel, scope: Scope(parsing: scope), lists: lists))
    }

    func isBlocked(_ address: String, _ channel: Channel = .email, scope: String = "", lists: Set<ListID> = []) throws -> Bool {
        try !check(address, channel, scope: scope, lists: lists).allowed
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_780_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}
