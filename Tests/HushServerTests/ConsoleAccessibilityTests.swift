import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// axe-core as the pinned PyPI package `axe-selenium-python` carries it (`.ci/run` installs it):
/// the same script that package injects through Selenium, injected here through WebDriver.
enum Axe {
    static let package = "axe-selenium-python==2.1.6"

    /// The script's text, or nil when the package is not installed.
    static func script() throws -> String? {
        if let path = ProcessInfo.processInfo.environment["HUSH_AXE_SCRIPT"] {
            return try String(contentsOfFile: path, encoding: .utf8)
        }
        let pipe = Pipe()
        let python = try Child("/usr/bin/env", ["python3", "-c", "import axe_selenium_python, os; print(os.path.dirname(axe_selenium_python.__file__))"],
                               output: .pipe(pipe))
        try pipe.fileHandleForWriting.close()
        let folder = String(decoding: PipeReading.all(pipe.fileHandleForReading), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        python.waitUntilExit()
        guard python.terminationStatus == 0, !folder.isEmpty else { return nil }
        return try String(contentsOfFile: folder + "/node_modules/axe-core/axe.min.js", encoding: .utf8)
    }

    /// The page's serious and critical violations, one line each (rule, what it asks, where).
    static func violations(on browser: Browser, script: String) async throws -> [String] {
        _ = try await browser.execute(script + "\n;return typeof axe;")
        let found = try await browser.execute("""
            return axe.run(document, {resultTypes: ['violations']}).then(function (results) {
                return results.violations
                    .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                    .map(function (v) {
                        return v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                            v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); }).join(', ');
                    });
            });
            """)
        return found as? [String] ?? ["axe answered \(String(describing: found))"]
    }
}

/// Every console page (and the sign-in page and the person's preference page) at 390 and 1280 px
/// with content on it, checked by axe-core: no serious or critical violation.
@Suite(.serialized, .sqliteOnly) struct ConsoleAccessibilityTests {
    @Test func noPageHasASeriousOrCriticalViolation() async throws {
        guard let script = try Axe.script() else {
            Issue.record("axe-core is missing: `python3 -m pip install \(Axe.package)` (.ci/run installs it)")
            return
        }
        var configuration = ConsoleBrowserTests.configuration()
        configuration.runsConnectors = false
        let server = try await TestServer(configuration: configuration)
        try await ConsoleBrowserTests.withConsole(server) { console, client in
            // Something on every page: opt-outs, a list with entries, a send, a review item, an
            // endpoint, a ruleset and a trigger, a connector.
            try await ConsoleTests.user(client, server, "ann@example.com")
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["old@example.com", "+14155550100"], "channel": "all"}"#)
            let list = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Newsletter", "description": "Monthly"}"#).json["id"] as? Int)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["bob@example.com"], "channel": "email", "list": \#(list)}"#)
            let send = try #require(try await client.send(.post, "/v1/sends", key: server.admin, json: #"{"name": "Spring", "channel": "email", "recipients": ["old@example.com", "new@example.com"]}"#).json["id"] as? Int)
            try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"{"channel": "sms", "from": "+14155550123", "to": "+14155550999", "body": "please stop texting me after today"}"#)
            let hook = try #require(try await client.send(.post, "/v1/webhooks", key: server.admin, json: #"{"url": "http://127.0.0.1:9/hooks", "events": ["opt_out.created"]}"#).json["id"] as? Int)
            try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Outbound", "on_opt_out": "skip_steps"}"#)
            let trigger = try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "Do Not Call"}, "then": {"opt_out": {"channels": ["voice"]}}}"#)
            let connector = try #require(try await client.send(.post, "/v1/connectors", key: server.admin, json: """
                {"name": "dyn", "provider": "dynamics", "instance_url": "http://127.0.0.1:9", "auth": {"tenant": "t", "client_id": "c", "client_secret": "s"}, "mode": "shared_field"}
                """).json["id"] as? Int)
            let preference = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email"}"#)

            var pages = [("sign-in", "/console/login"), ("preference page", preference)]
            try await console.open("/console/login")
            try await Self.check(pages, console, script)

            try await console.signIn("ann@example.com", ConsoleTests.password)
            pages = ConsoleBrowserTests.pages.map { ($0.0, $0.1) } + [
                ("list", "/console/lists/\(list)"), ("person", "/console/people/old%40example.com"),
                ("erase", "/console/people/old%40example.com/erase"), ("send", "/console/sends/\(send)"),
                ("webhook", "/console/webhooks/\(hook)"), ("connector", "/console/connectors/\(connector)"),
                ("overview, 90 days", "/console?days=90"), ("trigger", "/console/sequences/triggers/\(try #require(trigger.json["id"] as? Int))"),
            ]
            try await Self.check(pages, console, script)

            // A page after an action: the audience check's table of results.
            try await console.open("/console/audience")
            try await console.browser.type("textarea[name=paste]", "new@example.com\nold@example.com\nnot an address\n")
            try await console.browser.click("main form button[type=submit]")
            #expect(try await console.see("Optout Email"))
            for width in [390, 1280] {
                try await console.browser.resize(width: width, height: 1000)
                let found = try await Axe.violations(on: console.browser, script: script)
                #expect(found.isEmpty, "audience results at \(width) px: \(found.joined(separator: "; "))")
            }
        }
    }

    private static func check(_ pages: [(String, String)], _ console: ConsoleBrowserTests.Console, _ script: String) async throws {
        for (name, path) in pages {
            try await console.open(path)
            for width in [390, 1280] {
                try await console.browser.resize(width: width, height: 1000)
                let found = try await Axe.violations(on: console.browser, script: script)
                #expect(found.isEmpty, "\(name) (\(path)) at \(width) px: \(found.joined(separator: "; "))")
            }
        }
    }
}
