import AsyncHTTPClient
import NIOHTTP1
import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// A headless Chromium driven through chromedriver's W3C WebDriver API (plain JSON over HTTP).
/// Debian's `chromium` and `chromium-driver`, installed by `.ci/run`.
final class Browser: @unchecked Sendable {
    static let driverPath = "/usr/bin/chromedriver"
    static let chromiumPath = "/usr/bin/chromium"

    private let driver: Child
    private let base: String
    private var session = ""

    init() async throws {
        let port = freeLoopbackPort()
        driver = try Child(Self.driverPath, ["--port=\(port)"])
        // A failing test leaves no browser behind.
        TestScope.onEnd { [driver] in
            if driver.isRunning {
                kill(driver.processIdentifier, SIGKILL)
                driver.waitUntilExit()
            }
        }
        base = "http://127.0.0.1:\(port)"
        var failure = ""
        let ready = try await eventually {
            do {
                return try await call("GET", "/status")["ready"] as? Bool == true
            } catch {
                failure = "\(error)"
                return false
            }
        }
        guard ready else {
            kill(driver.processIdentifier, SIGKILL)
            throw BrowserError("chromedriver did not start: \(failure)")
        }
        let created = try await call("POST", "/session", [
            "capabilities": ["alwaysMatch": [
                "browserName": "chrome",
                "goog:chromeOptions": [
                    "binary": Self.chromiumPath,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"],
                ],
            ]],
        ])
        session = try #require(created["sessionId"] as? String)
    }

    func close() async {
        _ = try? await call("DELETE", "/session/\(session)")
        // chromedriver does not always stop on SIGTERM.
        kill(driver.processIdentifier, SIGKILL)
    }

    func resize(width: Int, height: Int) async throws {
        _ = try await call("POST", "/session/\(session)/window/rect", ["width": width, "height": height])
    }

    func open(_ url: String) async throws {
        _ = try await call("POST", "/session/\(session)/url", ["url": url])
    }

    func click(_ selector: String) async throws {
        try await act(on: selector, "click", [:])
    }

    /// Types into the field (after what it holds).
    func type(_ selector: String, _ text: String) async throws {
        try await act(on: selector, "value", ["text": text])
    }

    /// Finds the element and acts on it. A navigation the last action started may finish late
    /// on a busy machine: the element is then stale (the page was replaced between finding and
    /// acting) or not there yet, and it is looked for again on the page shown, for a minute at most.
    private func act(on selector: String, _ command: String, _ body: [String: Any]) async throws {
        var lastError: (any Error)?
        let done = try await eventually {
            do {
                _ = try await call("POST", "/session/\(session)/element/\(try await element(selector))/\(command)", body)
                return true
            } catch let error as BrowserError
                where error.description.contains("stale element reference") || error.description.contains("no such element") {
                lastError = error
                return false
            }
        }
        if !done, let lastError { throw lastError }
    }

    private func element(_ selector: String) async throws -> String {
        let found = try await call("POST", "/session/\(session)/element", ["using": "css selector", "value": selector])
        guard let element = found.values.first as? String ?? (found["element-6066-11e4-a52e-4f735466cecf"] as? String) else {
            throw BrowserError("no element \(selector)")
        }
        return element
    }

    func source() async throws -> String {
        try await value("GET", "/session/\(session)/source") as? String ?? ""
    }

    /// Runs `script` (a function body) in the page and answers what it returns; a promise it
    /// returns is awaited (W3C "Execute Script").
    func execute(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await value("POST", "/session/\(session)/execute/sync", ["script": script, "args": arguments])
    }

    /// Saves a PNG of the viewport.
    func screenshot(to file: URL) async throws {
        let base64 = try #require(try await value("GET", "/session/\(session)/screenshot") as? String)
        try #require(Data(base64Encoded: base64)).write(to: file)
    }

    /// One WebDriver command over HTTP in process (AsyncHTTPClient). It was a curl process per
    /// command: hundreds of short-lived children a run, and Foundation's `Process` and
    /// `FileHandle` crashed under that many (a bad copy in `Process.run`, EINTR in a read).
    private func value(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        // A generous limit: it only stops a browser that never answers; a busy machine is slow.
        let response = try await HTTPClient.shared.execute(request, timeout: .minutes(5))
        let data = Data(buffer: try await response.body.collect(upTo: 64 << 20))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        if let error = (object?["value"] as? [String: Any])?["error"] as? String {
            throw BrowserError("\(method) \(path): \(error): \((object?["value"] as? [String: Any])?["message"] ?? "")")
        }
        return object?["value"]
    }

    private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        try await value(method, path, body) as? [String: Any] ?? [:]
    }
}

struct BrowserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite(.serialized, .everyBackend) struct BrowserTests {
    /// Screenshots go to `.build/screenshots` in the package.
    static let screenshots: URL = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent(".build/screenshots")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }()

    @Test func aPersonUnsubscribesFromEverythingInChromium() async throws {
        guard FileManager.default.isExecutableFile(atPath: Browser.driverPath) else {
            Issue.record("chromium and chromium-driver are not installed; .ci/run installs them")
            return
        }
        let server = try await TestServer()
        // Chromium on the live server; the checks through the router in process (the same store).
        try await server.live { port in try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"brand_name": "Acme Outreach"}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email", "scope": "brand/rep-1"}"#)
            let browser = try await Browser()
            do {
                try await browser.resize(width: 390, height: 900)
                try await browser.open("http://127.0.0.1:\(port)\(path)")
                #expect(try await browser.source().contains("Email preferences"))
                let narrow = Self.screenshots.appendingPathComponent("preference-center-390.png")
                try await browser.screenshot(to: narrow)
                try await browser.resize(width: 1280, height: 900)
                let wide = Self.screenshots.appendingPathComponent("preference-center-1280.png")
                try await browser.screenshot(to: wide)
                print("screenshots: \(narrow.path) \(wide.path)")
                #expect(try await client.allowed(server, "address=ann@example.com&channel=email&scope=other") == true, "opening the page changed nothing")

                try await browser.click("input[name=choice][value=all]")
                try await browser.click("form button[type=submit]")
                #expect(try await eventually { try await browser.source().contains("You are unsubscribed") })
                let confirmation = Self.screenshots.appendingPathComponent("unsubscribed-1280.png")
                try await browser.screenshot(to: confirmation)
                print("screenshots: \(confirmation.path)")
            } catch {
                await browser.close()
                throw error
            }
            await browser.close()

            // "Stop all messages": every channel, every sender of the organization.
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&scope=other") == false)
            let event = try #require(try await client.events(server).first)
            #expect(event["source"] as? String == "preference_center")
            #expect(event["channel"] as? String == "all")
            #expect(((event["evidence"] as? [String: Any])?["user_agent"] as? String)?.contains("Chrome") == true)
        } }
    }
}
