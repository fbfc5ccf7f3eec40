import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HushCore
import HushStore
import HushTestSupport
import Testing

@Suite(.everyBackend) struct CLITests {
    @Test func organizationsAndKeys() async throws {
        let cli = try await CLI()
        #expect(try await cli.run(["orgs", "create", "acme"]).status == 0)
        let created = try await cli.run(["keys", "create", "--org", "acme", "--role", "admin"])
        #expect(created.status == 0)
        let lines = created.stdout.split(separator: "\n")
        #expect(lines.count == 1, "only the key is printed")
        let key = String(try #require(lines.first))
        #expect(key.hasPrefix("hush_"))

        let store = try await cli.store(loadsIndex: false)
        let principal = try await store.principal(forKeyHash: APIKey(secret: key).hash)
        #expect(principal?.role == .admin)
        #expect(principal?.organization == (try await store.organization(named: "acme"))?.id)
        try await store.close()

        #expect(try await cli.run(["keys", "create", "--org", "nobody"]).status != 0)
        #expect(try await cli.run(["keys", "create", "--org", "acme", "--role", "owner"]).status != 0)
        #expect(try await cli.run(["orgs", "create", "acme"]).status != 0, "names are unique")
    }

    @Test func optOutAndCheckExitCodes() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let allowed = try await cli.run(["check", "ann@example.com", "--channel", "email"])
        #expect(allowed.status == 0)
        #expect(allowed.stdout.hasPrefix("allowed"))

        let optOut = try await cli.run(["opt-out", "Ann@Example.com", "--channel", "email", "--scope", "brand", "--reason", "asked on a call"])
        #expect(optOut.status == 0, "\(optOut.stderr)")
        #expect(try await cli.run(["opt-out", "ann@example.com", "--channel", "email", "--scope", "brand"]).stdout.hasPrefix("already opted out"))

        let blocked = try await cli.run(["check", "ann@example.com", "--channel", "email", "--scope", "brand/rep-7"])
        #expect(blocked.status == 1)
        #expect(blocked.stdout.contains("source rep"))
        #expect(try await cli.run(["check", "ann@example.com", "--channel", "email", "--scope", "other"]).status == 0)
        #expect(try await cli.run(["check", "ann@example.com", "--channel", "sms"]).status == 2, "sms does not send to email")

        let bad = try await cli.run(["check", "not an address", "--channel", "email"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("error: address:"))
        #expect(try await cli.run(["check", "ann@example.com", "--channel", "fax"]).status == 2)
        #expect(try await cli.run(["check", "ann@example.com", "--channel", "email", "--org", "nobody"]).status == 2)
        #expect(try await cli.run(["check", "ann@example.com", "--channel", "email", "--lists", "missing"]).status == 2)

        let store = try await cli.store()
        let organization = try #require(try await store.organization(named: "default"))
        let events = try await store.events(in: organization.id, after: 0, limit: 10, address: nil)
        #expect(events.count == 1)
        #expect(events.first?.source == .rep)
        #expect(events.first?.actor.hasPrefix("cli:") == true)
        #expect(events.first?.evidence.fields["reason"] == .string("asked on a call"))
        try await store.close()
    }

    @Test func aRunningServerSeesWhatTheCommandLineWrites() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let server = try await cli.store()
        let organization = try #require(try await server.organization(named: "default"))
        let query = CheckQuery(channel: .sms, scope: .organization, lists: [])
        let address = try Address(parsing: "+14155550100")
        #expect(server.decision(for: address, in: organization.id, query: query).allowed)

        #expect(try await cli.run(["opt-out", "+1 (415) 555-0100", "--channel", "sms"]).status == 0)
        let blocked = try await following(server) { !server.decision(for: address, in: organization.id, query: query).allowed }
        #expect(blocked, "the index follows writes made by another process")
        try await server.close()
    }

    @Test func importAndExportOneHundredThousandRows() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let rows = 100_000
        var text = "address,channel,scope\n"
        text.reserveCapacity(rows * 32)
        for index in 0..<rows {
            if index.isMultiple(of: 2) {
                text += "person\(index)@example.com,email,\n"
            } else {
                text += "+1415\(String(format: "%07d", index)),,brand\n"
            }
        }
        let file = try cli.write("opt-outs.csv", text)

        let imported = try await cli.run(["import", file, "--channel", "sms"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout == "imported \(rows) opt-outs: \(rows) new, 0 already in force\n")

        let again = try await cli.run(["import", file, "--channel", "sms"])
        #expect(again.stdout == "imported \(rows) opt-outs: 0 new, \(rows) already in force\n")

        let exported = try await cli.run(["export", "--list", "default"])
        #expect(exported.status == 0)
        let lines = exported.stdout.split(separator: "\n")
        #expect(lines.count == rows + 1)
        #expect(lines.first == "address,channel,scope,list,since,source,hold")
        let addresses = Set(lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[0] })
        #expect(addresses.count == rows)
        #expect(addresses.contains("person0@example.com"))
        #expect(addresses.contains("'+14150000001"), "a leading + is written as '+ (no formula in a spreadsheet)")
        #expect(lines.contains("'+14150000001,sms,brand,default,\(lines[2].split(separator: ",")[4]),import,false"))

        let store = try await cli.store()
        let organization = try #require(try await store.organization(named: "default"))
        #expect(store.indexedCount == rows)
        let phone = store.decision(for: try Address(parsing: "+14150000001"), in: organization.id, query: CheckQuery(channel: .sms, scope: try Scope(parsing: "brand"), lists: []))
        #expect(!phone.allowed)
        let event = try await store.events(in: organization.id, after: 0, limit: 1, address: nil).first
        #expect(event?.source == .import)
        #expect(event?.evidence.fields["line"] == .number(2))
        #expect(event?.evidence.fields["file"] == .string("opt-outs.csv"))
        try await store.close()
    }

    @Test func badRowsAreReportedAndNothingIsImported() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let file = try cli.write("mixed.csv", """
            address,channel,list
            good@example.com,email,
            not-an-address,email,
            +14155550100,voice,
            other@example.com,sms,
            someone@example.com,email,Nowhere
            "Quoted@Example.com",email,

            """)
        let refused = try await cli.run(["import", file])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("line 3: address:"))
        #expect(refused.stderr.contains("line 5: channel:"))
        #expect(refused.stderr.contains("line 6: list: no list \"Nowhere\""))
        #expect(refused.stderr.contains("3 of 6 rows are bad; nothing was imported"))
        #expect(!refused.stderr.contains("line 2:"))
        #expect(!refused.stderr.contains("line 4:"))

        let store = try await cli.store(loadsIndex: false)
        let organization = try #require(try await store.organization(named: "default"))
        #expect(try await store.events(in: organization.id, after: 0, limit: 10, address: nil).isEmpty)

        let skipped = try await cli.run(["import", file, "--skip-invalid"])
        #expect(skipped.status == 0)
        #expect(skipped.stdout == "imported 3 opt-outs: 3 new, 0 already in force, 3 bad rows skipped\n")
        let written = try await store.events(in: organization.id, after: 0, limit: 10, address: nil)
        #expect(written.map(\.subject.description).sorted() == ["+14155550100", "good@example.com", "quoted@example.com"].sorted())
        try await store.close()

        #expect(try await cli.run(["import", cli.write("headless.csv", "email\na@example.com\n")]).status != 0)
        #expect(try await cli.run(["import", cli.folder.appendingPathComponent("missing.csv").path]).status != 0)
    }

    @Test func anInterruptedImportLeavesNothingBehind() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let rows = 100_000
        var text = "address\n"
        for index in 0..<rows { text += "killed\(index)@example.com\n" }
        let file = try cli.write("big.csv", text)

        let running = try cli.start(["import", file, "--channel", "email"])
        // Wait until the rows are read and staged and the commit is under way, then kill.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("checked") {
            let chunk = PipeReading.chunk(running.errors.fileHandleForReading)
            if chunk.isEmpty { break }
            seen += chunk
        }
        try await Task.sleep(for: .milliseconds(150))
        kill(running.process.processIdentifier, SIGKILL)
        running.process.waitUntilExit()

        let store = try await cli.store()
        let organization = try #require(try await store.organization(named: "default"))
        let count = store.indexedCount
        #expect(count == 0 || count == rows, "an import is whole or absent, never \(count) of \(rows) rows")
        let events = try await store.events(in: organization.id, after: 0, limit: 1_000, address: nil)
        #expect(events.count == min(count, 1_000))
        try await store.close()

        // The killed import's staging file (SQLite keeps it beside the database) goes with the
        // next import, as does any of a process that is gone (no process has this id).
        guard Backend.current == .sqlite else { return }
        _ = try cli.write("hush.sqlite.import-999999999-abandoned", "rows")
        #expect(try await cli.run(["import", cli.write("one.csv", "address\nafter@example.com\n"), "--channel", "email"]).status == 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: cli.folder.path).filter { $0.contains(".import-") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func serveCreatesTheFirstKeyAnswersAndStopsOnSIGTERM() async throws {
        let cli = try await CLI()
        let port = freeLoopbackPort()
        let running = try cli.start(["serve", "--port", String(port)])
        // The first line names the organization; the second is the key; then how to make the first console user.
        var printed = ""
        while printed.split(separator: "\n").count < 4 {
            let chunk = PipeReading.chunk(running.output.fileHandleForReading)
            if chunk.isEmpty { break }
            printed += String(decoding: chunk, as: UTF8.self)
        }
        let key = String(try #require(printed.split(separator: "\n").last { $0.hasPrefix("hush_") }))
        #expect(printed.contains("hush users create --org default --email you@example.com --role admin"), "\(printed)")

        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/settings")!)
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        var answered: (Data, URLResponse)?
        _ = try await eventually {
            answered = try? await URLSession.shared.data(for: request)
            return answered != nil
        }
        let (body, response) = try #require(answered)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: body, as: UTF8.self).contains(#""organization":"default""#))

        kill(running.process.processIdentifier, SIGTERM)
        running.process.waitUntilExit()
        #expect(running.process.terminationReason == .exit)
        #expect(running.process.terminationStatus == 0)

        // A second start finds the organization and prints no key.
        let again = try cli.start(["serve", "--port", String(port)])
        let health = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/health")!)
        #expect(try await eventually { (try? await URLSession.shared.data(for: health)) != nil }, "the second start answers")
        kill(again.process.processIdentifier, SIGINT)
        again.process.waitUntilExit()
        let output = String(decoding: PipeReading.all(again.output.fileHandleForReading), as: UTF8.self)
        #expect(!output.contains("hush_"))
        #expect(again.process.terminationStatus == 0)
    }

    @Test func exportQuotesFieldsAndReadsBackWithImport() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let store = try await cli.store(loadsIndex: false)
        let organization = try #require(try await store.organization(named: "default"))
        _ = try await store.createList(in: organization.id, ListDefinition(name: #"Promo "weekly""#))
        try await store.close()
        let file = try cli.write("in.csv", "address,scope\nann@example.com,brand\n+14155550100,\n")
        #expect(try await cli.run(["import", file, "--list", #"Promo "weekly""#, "--channel", "all"]).status == 0)

        let exported = try await cli.run(["export", "--list", #"Promo "weekly""#])
        let lines = exported.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix(#"ann@example.com,all,brand,"Promo ""weekly""","#))
        #expect(lines[2].hasPrefix(#"'+14155550100,all,,"Promo ""weekly""","#))

        // The export reads back: every row is already in force.
        let again = try await cli.run(["import", try cli.write("out.csv", exported.stdout)])
        #expect(again.stdout == "imported 2 opt-outs: 0 new, 2 already in force\n", "\(again.stderr)")
    }

    /// Moved to another database, an export keeps its organization-wide rows organization-wide
    /// whatever `--scope` says, and a held row is refused (an import would make it one a
    /// confirmation could lift) unless skipped.
    @Test func anExportMovedToAnotherDatabaseKeepsScopesAndRefusesHolds() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        #expect(try await cli.run(["opt-out", "ann@example.com", "--channel", "email"]).status == 0)
        #expect(try await cli.run(["opt-out", "bob@example.com", "--channel", "email", "--hold", "--reason", "legal"]).status == 0)
        let exported = try await cli.run(["export", "--list", "default"])
        #expect(exported.stdout.split(separator: "\n").contains { $0.hasPrefix("bob@example.com,") && $0.hasSuffix(",true") }, "\(exported.stdout)")

        let other = try await CLI()
        try await other.run(["orgs", "create", "default"])
        let file = try other.write("moved.csv", exported.stdout)
        let refused = try await other.run(["import", file, "--scope", "brand"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("line 3: hold:"), "\(refused.stderr)")
        #expect(try await other.run(["import", file, "--scope", "brand", "--skip-invalid"]).status == 0)
        let moved = try await other.run(["export", "--list", "default"]).stdout.split(separator: "\n")
        #expect(moved.count == 2)
        #expect(moved[1].hasPrefix("ann@example.com,email,,default,"), "still organization-wide: \(moved)")
    }

    @Test func linkKeysRotateAndOldKeysStayKnown() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let store = try await cli.store(loadsIndex: false)
        let first = try await store.linkKeys()
        #expect(first.count == 1)
        let rotated = try await cli.run(["link-keys", "rotate"])
        #expect(rotated.status == 0)
        let keys = try await store.linkKeys()
        #expect(keys.count == 2)
        #expect(rotated.stdout == "new link key \(keys[0].id)\n", "the newest key signs")
        #expect(keys[1] == first[0], "the old key still verifies")
        try await store.close()
    }

    @Test func webhooksVerifyChecksAStandardWebhooksSignature() async throws {
        let cli = try await CLI()
        let body = try cli.write("body.json", #"{"test": 2432232314}"#)
        let arguments = ["webhooks", "verify", "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                         "--timestamp", "1614265330", "--body", body]
        let valid = try await cli.run(arguments + ["--signature", "v1,bm90LWl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="], database: false)
        #expect(valid.status == 0)
        #expect(valid.stdout == "valid\n")
        let invalid = try await cli.run(arguments + ["--signature", "v1,bm90LWl0"], database: false)
        #expect(invalid.status == 1)
        #expect(invalid.stdout.contains("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="))
        #expect(try await cli.run(["webhooks", "verify", "--secret", "nope", "--id", "x", "--timestamp", "1", "--body", body, "--signature", "v1,x"], database: false).status == 2)
    }
}
