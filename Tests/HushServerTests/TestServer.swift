import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushStore
import AsyncHTTPClient
import HushTestSupport
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing
@testable import HushServer

/// A server on a new database of the test's backend with two organizations, each with an admin
/// and a member key. The store and the server read one clock, `clock`, which follows real time
/// until the test moves it. The store is closed and the database removed when the test ends.
struct TestServer {
    let store: any Store
    let database: TestDatabase
    let clock: TestClock
    let acme: Organization
    let other: Organization
    let admin: String
    let member: String
    /// A provider integration's key: inbound messages and activities only.
    let inbound: String
    let otherAdmin: String

    init(configuration: ServerConfiguration = ServerConfiguration(), clock: TestClock = .flowing()) async throws {
        var configuration = configuration
        configuration.now = clock.read
        // bcrypt at its lowest cost: a test signs in often, and what it tests is not the hash's work.
        configuration.passwordCost = 4
        self.configuration = configuration
        self.clock = clock
        database = try await Backend.current.newDatabase()
        store = try await database.open(erasureKey: erasureKey, clock: clock)
        acme = try await store.createOrganization(named: "acme")
        other = try await store.createOrganization(named: "other")
        admin = try await store.createKey(in: acme.id, role: .admin).0.secret
        member = try await store.createKey(in: acme.id, role: .member).0.secret
        inbound = try await store.createKey(in: acme.id, role: .inbound).0.secret
        otherAdmin = try await store.createKey(in: other.id, role: .admin).0.secret
    }

    let configuration: ServerConfiguration
    /// The erasure key every node on the test's database shares.
    let erasureKey = ErasureKey.random()

    /// Another node (a process) on the same database, with the same keys, as a deployment runs them.
    func anotherNode(loadsIndex: Bool = true) async throws -> any Store {
        try await database.open(erasureKey: erasureKey, clock: clock, loadsIndex: loadsIndex)
    }

    var application: some ApplicationProtocol { HushServer.application(store: store, configuration: configuration) }

    /// Runs `body` against the router in process.
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await application.test(.router, body)
    }

    /// How long the live application has to start listening before the test fails (a busy
    /// machine takes seconds; a start that never comes is a failure, not a hang).
    static let startupLimit: Duration = .seconds(120)

    /// Runs the whole application (its services too) on a free loopback port and `body` with
    /// that port, for a client of its own over real HTTP. No signals are trapped (HummingbirdTesting's
    /// `.live` traps SIGTERM and SIGINT in every test at once), and a server that does not start
    /// within `startupLimit`, or whose services fail first, fails the test with why.
    func live(_ body: @Sendable (_ port: Int) async throws -> Void) async throws {
        var configuration = self.configuration
        configuration.port = 0
        let (ports, bound) = AsyncStream<Int>.makeStream()
        let application = HushServer.application(
            store: store, configuration: configuration, logger: Logger(label: "test"),
            onServerRunning: { channel in bound.yield(channel.localAddress?.port ?? 0) })
        let services = ServiceGroup(configuration: .init(services: [application], logger: Logger(label: "test")))
        try await withThrowingTaskGroup { group in
            group.addTask {
                defer { bound.finish() }
                try await services.run()
            }
            guard let port = await announcedPort(ports, bound, within: Self.startupLimit) else {
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                throw LiveServerDidNotStart(limit: Self.startupLimit)
            }
            do {
                try await body(port)
            } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}

struct LiveServerDidNotStart: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "the live application did not start listening within \(limit), and its services reported no error" }
}

/// Requests over real HTTP that wait as long as an answer takes: a busy machine is slow, not
/// wrong (the limit only stops a test that would never pass).
enum PatientHTTP {
    static func send(
        _ method: HTTPMethod, port: Int, _ path: String, key: String, body: String? = nil, limit: TimeAmount = .minutes(10)
    ) async throws -> (status: Int, body: ByteBuffer) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: limit)
        return (Int(response.status.code), try await response.body.collect(upTo: 1 << 30))
    }
}

extension TestClientProtocol {
    /// Sends a request with a key and an optional JSON body.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ uri: String, key: String?, json: String? = nil
    ) async throws -> (status: HTTPResponse.Status, json: [String: Any], contentType: String?) {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
            return (response.status, object, response.headers[.contentType])
        }
    }
}
