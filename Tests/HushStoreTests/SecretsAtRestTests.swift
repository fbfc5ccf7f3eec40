import Foundation
import GRDB
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// Secrets Hush keeps (webhook signing secrets, the Twilio token, link keys) are sealed under a
/// key outside the database, and the database files are their owner's alone.
@Suite(.sqliteOnly) struct SecretsAtRestTests {
    @Test func secretsAreStoredSealedAndReadBackInClear() async throws {
        let test = try await TestStore()
        let secret = WebhookSecret.generate()
        _ = try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/hook", events: ["opt_out.created"], secrets: [secret]), in: test.id)
        try await test.store.updateInboundSettings(of: test.id) { $0.twilioAuthToken = "twilio-token-12345" }
        let linkKey = try #require(try await test.store.linkKeys().first)

        let raw = try await test.sqlite.pool.read { db in
            (try String.fetchOne(db, sql: "SELECT secrets FROM webhook_endpoints") ?? "",
             try String.fetchOne(db, sql: "SELECT twilio_auth_token FROM inbound_settings") ?? "",
             try Data.fetchOne(db, sql: "SELECT secret FROM link_keys") ?? Data())
        }
        #expect(raw.0.hasPrefix(SecretKey.prefix) && !raw.0.contains(secret.description))
        #expect(raw.1.hasPrefix(SecretKey.prefix) && !raw.1.contains("twilio-token"))
        #expect(SecretKey.isSealed(Array(raw.2)) && Array(raw.2) != linkKey.secret)

        #expect(try await test.store.webhooks(in: test.id).first?.secrets == [secret])
        #expect(try await test.store.inboundSettings(of: test.id).twilioAuthToken == "twilio-token-12345")
        try await test.store.close()
        let reopened = try await TestStore.open(test.database)
        #expect(try await reopened.linkKeys().first == linkKey)
        try await reopened.close()
    }

    @Test func secretsStoredBeforeEncryptionAreSealedWhenTheStoreOpens() async throws {
        let test = try await TestStore()
        _ = try await test.store.linkKeys()
        try await test.sqlite.pool.write { db in
            try db.execute(sql: "UPDATE link_keys SET secret = ?", arguments: [Data(repeating: 7, count: 32)])
            try db.execute(sql: "INSERT INTO inbound_settings (org_id, twilio_auth_token) VALUES (?, 'plain-token')", arguments: [test.id.rawValue])
        }
        try await test.store.close()
        let reopened = try await TestStore.open(test.database)
        let raw = try await (reopened as! SQLiteStore).pool.read { db in
            (try Data.fetchOne(db, sql: "SELECT secret FROM link_keys") ?? Data(), try String.fetchOne(db, sql: "SELECT twilio_auth_token FROM inbound_settings") ?? "")
        }
        #expect(SecretKey.isSealed(Array(raw.0)))
        #expect(raw.1.hasPrefix(SecretKey.prefix))
        #expect(try await reopened.linkKeys().first?.secret == [UInt8](repeating: 7, count: 32))
        #expect(try await reopened.inboundSettings(of: test.id).twilioAuthToken == "plain-token")
        try await reopened.close()
    }

    @Test func anotherSecretKeyCannotReadThem() async throws {
        let test = try await TestStore()
        _ = try await test.store.linkKeys()
        try await test.store.close()
        var configuration = SQLiteStore.Configuration(path: test.database.location, erasureKey: TestStore.erasureKey)
        configuration.secretKey = .random()
        let other = try await SQLiteStore(configuration)
        await #expect(throws: HushError.self) { try await other.linkKeys() }
        try await other.close()
    }

    @Test func theDatabaseFilesAreTheOwnersAlone() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com")
        for file in ["", "-wal", "-shm"].map({ test.database.location + $0 }) {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(file)")
        }
    }
}
