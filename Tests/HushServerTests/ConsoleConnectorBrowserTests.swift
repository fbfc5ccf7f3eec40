import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// A CRM connector set up, tested, dry-run, synced, resynced, disabled and deleted through
/// the console in Chromium.
extension ConsoleBrowserTests {
    @Test func aConnectorIsSetUpTestedAndSyncedThroughThePage() async throws {
        var configuration = Self.configuration()
        // Only the page's buttons run the connector here: the background service would sync it first.
        configuration.runsConnectors = false
        let server = try await TestServer(configuration: configuration)
        let crm = try await DynamicsEmulator.start()
        let record = await crm.put("contacts", fields: ["emailaddress1": "erin@example.com"], booleans: ["donotemail": true])
        try await Self.withConsole(server) { console, client in
            try await ConsoleTests.user(client, server, "ann@example.com")
            try await console.signIn("ann@example.com", ConsoleTests.password)
            try await console.open("/console/connectors")
            #expect(try await console.see("Separate sales field"))
            try await console.browser.type("input[name=name]", "dyn")
            try await console.browser.type("input[name=instance_url]", await crm.url)
            try await console.browser.type("input[name=token_url]", await crm.tokenURL)
            try await console.browser.type("input[name=tenant]", DynamicsEmulator.tenant)
            try await console.browser.type("input[name=client_id]", DynamicsEmulator.clientID)
            try await console.browser.type("input[name=client_secret]", DynamicsEmulator.clientSecret)
            try await console.browser.click("main form button[type=submit]")
            #expect(try await console.see("Test the connection"))
            try await console.browser.click("form[action$='/test'] button")
            #expect(try await console.see("The CRM answered"))
            try await console.browser.click("form[action$='/dry-run'] button")
            #expect(try await console.see("What the run would do"))
            #expect(try await console.see("Dry run: ok"))
            #expect(try await client.allowed(server, "address=erin@example.com&channel=email") == true, "a dry run records nothing")
            try await console.browser.click("form[action$='/sync'] button")
            #expect(try await console.see("Run: ok"))
            #expect(try await client.allowed(server, "address=erin@example.com&channel=email") == false)
            #expect(!(try await console.browser.source().contains(DynamicsEmulator.clientSecret)), "the secret is never shown")
            try await console.shoot("connector")
            let connector = try #require((try await client.send(.get, "/v1/connectors", key: server.admin).json["connectors"] as? [[String: Any]])?.first?["id"] as? Int)

            // A CRM user unticks the field: a review item, dismissed on the review page; the opt-out stays.
            await crm.put("contacts", id: record, booleans: ["donotemail": false])
            // A fresh page, so the "Run: ok" waited for is this run's, not the last one's.
            try await console.open("/console/connectors/\(connector)")
            try await console.browser.click("form[action$='/sync'] button")
            #expect(try await console.see("Run: ok"))
            try await console.open("/console/review")
            #expect(try await console.see("donotemail"))
            try await console.browser.click("form[action^='/console/review/crm/'] button")
            #expect(try await console.see("Decided."))
            let review = try await client.send(.get, "/v1/review", key: server.admin).json["crm_unchecks"] as? [[String: Any]] ?? []
            #expect(review.allSatisfy { $0["status"] as? String == "dismissed" })
            #expect(try await client.allowed(server, "address=erin@example.com&channel=email") == false, "a sync never opts anyone in")

            try await console.open("/console/connectors/\(connector)")
            try await console.browser.click("form[action$='/resync'] button")
            #expect(try await console.see("Run: ok"))
            try await console.browser.click("form[action$='/disable'] button")
            #expect(try await console.see("Enable</button>"))
            #expect(try await client.send(.get, "/v1/connectors/\(connector)", key: server.admin).json["enabled"] as? Bool == false)
            try await console.browser.click("form[action$='/delete'] button")
            #expect(try await console.see("Deleted."))
            #expect(try await client.send(.get, "/v1/connectors/\(connector)", key: server.admin).status == .notFound)
        }
        await crm.stop()
    }
}
