import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.everyBackend) struct ContactsTests {
    @Test func contactOptOutCoversEveryLinkedAddress() async throws {
        let test = try await TestStore()
        let crm = try ContactID(parsing: "crm-42")
        _ = try await test.store.link([Address(parsing: "ann@example.com"), Address(parsing: "+14155550100")], to: crm, in: test.id)
        _ = try await test.store.record(OptOut(subject: .contact(crm), channel: .all, actor: "crm-sync", evidence: Evidence()), in: test.id)
        #expect(try test.isBlocked("ann@example.com"))
        #expect(try test.isBlocked("+14155550100", .sms))
        #expect(try test.check("ann@example.com").blockedBy.first?.contact == crm)
    }

    @Test func addressLinkedAfterContactOptOutIsBlocked() async throws {
        let test = try await TestStore()
        let crm = try ContactID(parsing: "crm-42")
        _ = try await test.store.record(OptOut(subject: .contact(crm), channel: .only(.email), actor: "crm-sync"), in: test.id)
        #expect(try !test.isBlocked("new@example.com"))
        _ = try await test.store.link([Address(parsing: "new@example.com")], to: crm, in: test.id)
        #expect(try test.isBlocked("new@example.com"))
        #expect(try !test.isBlocked("other@example.com"))
    }

    @Test func contactListsItsAddresses() async throws {
        let test = try await TestStore()
        let crm = try ContactID(parsing: "crm-7")
        _ = try await test.store.link([Address(parsing: "(415) 555-0100", region: .us)], to: crm, in: test.id)
        _ = try await test.store.link([Address(parsing: "ann@example.com")], to: crm, in: test.id)
        let contact = try #require(try await test.store.contact(crm, in: test.id))
        #expect(contact.addresses.map(\.normalized) == ["+14155550100", "ann@example.com"])
        #expect(contact.addresses.first?.input == "(415) 555-0100")
    }

    @Test func linksOfAnotherProcessAreFollowed() async throws {
        let writer = try await TestStore()
        let reader = try await TestStore(database: writer.database)
        let crm = try ContactID(parsing: "crm-42")
        _ = try await writer.store.record(OptOut(subject: .contact(crm), channel: .all, actor: "crm-sync"), in: writer.id)
        _ = try await writer.store.link([Address(parsing: "ann@example.com")], to: crm, in: writer.id)
        try await reader.store.catchUp()
        #expect(try reader.isBlocked("ann@example.com"))
    }

    @Test func channelOptOutWithoutGranularSettingStopsEveryChannelOfTheContact() async throws {
        let test = try await TestStore()
        let crm = try ContactID(parsing: "crm-42")
        _ = try await test.store.link([Address(parsing: "+14155550100"), Address(parsing: "ann@example.com")], to: crm, in: test.id)
        let outcome = try await test.optOut("+14155550100", "sms", source: .keyword)
        #expect(outcome.suppressions.map(\.channel) == [.all, .all])
        #expect(try test.isBlocked("+14155550100", .voice))
        #expect(try test.isBlocked("ann@example.com", .email))
    }

    @Test func channelOptOutWithGranularSettingStopsOnlyThatChannel() async throws {
        let test = try await TestStore(settings: OrganizationSettings(granularOptOuts: true))
        let crm = try ContactID(parsing: "crm-42")
        _ = try await test.store.link([Address(parsing: "+14155550100"), Address(parsing: "ann@example.com")], to: crm, in: test.id)
        _ = try await test.optOut("+14155550100", "sms", source: .keyword)
        #expect(try test.isBlocked("+14155550100", .sms))
        #expect(try !test.isBlocked("+14155550100", .voice))
        #expect(try !test.isBlocked("ann@example.com", .email))
    }

    @Test func apiOptOutKeepsItsChannelWhateverTheSetting() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("+14155550100", "sms", source: .api)
        #expect(try !test.isBlocked("+14155550100", .voice))
    }
}
