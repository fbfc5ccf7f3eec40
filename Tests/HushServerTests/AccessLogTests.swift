import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import HushTestSupport
import Testing
@testable import HushServer

/// Keeps what was logged, for tests.
final class CapturedLog: Sendable {
    let lines = Mutex<[(message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            log.lines.withLock { $0.append(("\(event.message)", merged)) }
        }
    }
}

@Suite(.everyBackend) struct AccessLogTests {
    @Test func oneLinePerRequestWithTheRouteAndKeyButNoAddressOrQuery() async throws {
        var configuration = ServerConfiguration(sendsWebhooks: false)
        configuration.accessLog = true
        let server = try await TestServer(configuration: configuration)
        let log = CapturedLog()
        let application = HushServer.application(store: server.store, configuration: configuration, logger: log.logger)
        try await application.test(.router) { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            try await client.send(.get, "/v1/check?address=ann@example.com&channel=email", key: server.member)
        }
        let requests = log.lines.withLock { $0.filter { $0.message == "request" } }
        #expect(requests.count == 2)
        #expect(requests.map { $0.metadata["http.route"]?.description } == ["/v1/opt-outs", "/v1/check"])
        #expect(requests.allSatisfy { $0.metadata["key.id"] != nil && $0.metadata["http.status"] != nil })
        let everything = log.lines.withLock { $0.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n") }
        #expect(!everything.contains("ann@example.com"))
        #expect(!everything.contains("channel=email"))
    }

    @Test func offByDefault() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(sendsWebhooks: false))
        let log = CapturedLog()
        let application = HushServer.application(store: server.store, configuration: server.configuration, logger: log.logger)
        _ = try await application.test(.router) { client in
            try await client.send(.get, "/v1/lists", key: server.member)
        }
        #expect(log.lines.withLock { $0.filter { $0.message == "request" } }.isEmpty)
    }
}
