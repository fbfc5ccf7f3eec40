import AsyncHTTPClient
import Foundation
import HushCore
import HushServer
import HushStore
import Logging
import NIOCore
import ServiceLifecycle

/// The console over real HTTP on a loaded store: signs a user in, gives one person 1 000 ledger
/// events (500 opt-outs, each lifted with evidence), then times one request after another:
/// `GET /console` (every figure on it), the default list's first page (every seeded
/// suppression is on it), that person's page (suppressions, lists, timeline) and `GET /v1/stats`.
struct ConsoleBenchmark {
    let store: any Store
    let organization: Organization
    let requests = 50

    func run() async throws {
        _ = try await UserCommands(store: store, passwordCost: 4).create(
            email: "bench@example.com", role: "admin", password: "bench password 1", in: organization.id)
        let key = try await store.createKey(in: organization.id, role: .admin).0.secret
        var configuration = ServerConfiguration(port: 0)
        configuration.runsConnectors = false
        let (ports, announce) = AsyncStream<Int>.makeStream()
        let application = HushServer.application(
            store: store, configuration: configuration, logger: Logger(label: "bench"),
            onServerRunning: { channel in announce.yield(channel.localAddress?.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [application], logger: Logger(label: "bench")))
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            var port = 0
            for await announced in ports {
                port = announced
                break
            }
            let base = "http://127.0.0.1:\(port)"
            // The sign-in answers 303 with the cookie; following it without the cookie would loop.
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
            // The sign-in form's token is in the page and in a cookie the post sends back.
            let page = try await client.execute(HTTPClientRequest(url: base + "/console/login"), timeout: .seconds(30))
            let html = String(buffer: try await page.body.collect(upTo: 1 << 20))
            let formToken = try unwrap(html.range(of: #"name="_csrf" value=""#).map { String(html[$0.upperBound...].prefix { $0 != "\"" }) })
            let formCookie = try unwrap(page.headers["set-cookie"].first { $0.hasPrefix("hush_sign_in=") }?.split(separator: ";").first.map(String.init))
            var login = HTTPClientRequest(url: base + "/console/login")
            login.method = .POST
            login.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            login.headers.add(name: "cookie", value: formCookie)
            login.body = .bytes(ByteBuffer(string: "_csrf=\(formToken)&email=bench%40example.com&password=bench+password+1"))
            let signedIn = try await client.execute(login, timeout: .seconds(30))
            let cookie = try unwrap(signedIn.headers["set-cookie"].first { $0.hasPrefix("hush_session=") }?.split(separator: ";").first.map(String.init))

            for round in 0..<500 {
                for (path, body) in [
                    ("/v1/opt-outs", #"{"address": "person@bench.example", "channel": "email", "reason": "round \#(round)"}"#),
                    ("/v1/opt-ins", #"{"address": "person@bench.example", "channel": "email", "evidence": {"kind": "written_consent", "reference": "form \#(round)"}}"#),
                ] {
                    var request = HTTPClientRequest(url: base + path)
                    request.method = .POST
                    request.headers.add(name: "authorization", value: "Bearer \(key)")
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: body))
                    let response = try await client.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    guard response.status == .ok || response.status == .created else { throw BenchFailure("\(path) answered \(response.status)") }
                }
            }
            for (label, path, header) in [("console overview (GET /console)", "/console", ("cookie", cookie)),
                                          ("console list, first page", "/console/lists/\(organization.defaultList.rawValue)", ("cookie", cookie)),
                                          ("console person, 1 000 events", "/console/people/person%40bench.example", ("cookie", cookie)),
                                          ("its API read (GET /v1/addresses/…)", "/v1/addresses/person%40bench.example", ("authorization", "Bearer \(key)")),
                                          ("stats (GET /v1/stats?days=90)", "/v1/stats?days=90", ("authorization", "Bearer \(key)"))] {
                var times: [Duration] = []
                for _ in 0..<requests {
                    var request = HTTPClientRequest(url: base + path)
                    request.headers.add(name: header.0, value: header.1)
                    let started = ContinuousClock.now
                    let response = try await client.execute(request, timeout: .seconds(30))
                    let body = try await response.body.collect(upTo: 1 << 24)
                    times.append(ContinuousClock.now - started)
                    guard response.status == .ok else { throw BenchFailure("\(path) answered \(response.status): \(String(buffer: body))") }
                }
                times.sort()
                report(label, "p50 \(times[times.count / 2].milliseconds) ms, p99 \(times[times.count * 99 / 100].milliseconds) ms over \(requests) requests, \(store.indexedCount.formatted()) suppressions")
            }
            try await client.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    fileprivate var milliseconds: String {
        String(format: "%.1f", inSeconds * 1_000)
    }
}
