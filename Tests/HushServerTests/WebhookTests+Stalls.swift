import Foundation
import HushTestSupport
import Testing
@testable import HushServer

/// Receivers that answer and then never finish, and a sender stopped in the middle of a post.
extension WebhookTests {
    /// The timeout covers the answer's body: a receiver that sends its head and then a byte now
    /// and then fails the attempt at the timeout, and the retry goes out when due.
    @Test func aReceiverThatNeverFinishesItsAnswerFailsAtTheTimeout() async throws {
        let server = try await Self.server(Self.settings(delays: [60, 60, 60], timeout: .seconds(2)))
        let receiver = try await WebhookReceiver.start { index, _ in index == 0 ? .init(drips: true) : .init() }
        try await server.test { client in
            let (id, _) = try await Self.endpoint(client, server, url: receiver.url)
            try await Self.optOut(client, server, "one@example.com")
            try await Self.sending(server) {
                await receiver.waitFor(1)
                let failed = try await Self.attempted(client, server, id, 1)
                #expect((failed["error"] as? String)?.contains("no answer within") == true, "\(failed)")
                server.clock.advance(by: 60)
                await receiver.waitFor(2)
                #expect(try await eventually {
                    try await Self.deliveries(client, server, id).first?["status"] as? String == "succeeded"
                })
            }
        }
        await receiver.stop()
    }

    /// A sender stopped while a post is in flight (a deploy) counts no attempt: the delivery
    /// keeps its place and its count, and is due at once after the restart.
    @Test func stoppingTheSenderMidPostCountsNoAttempt() async throws {
        let server = try await Self.server(Self.settings(delays: [60, 60, 60], timeout: .seconds(600)))
        let receiver = try await WebhookReceiver.start { _, _ in .init(drips: true) }
        try await server.test { client in
            let (id, _) = try await Self.endpoint(client, server, url: receiver.url)
            try await Self.optOut(client, server, "one@example.com")
            try await Self.sending(server) {
                await receiver.waitFor(1)
            }
            let delivery = try #require(try await Self.deliveries(client, server, id).first)
            #expect(delivery["attempts"] as? Int == 0, "\(delivery)")
            #expect(delivery["status"] as? String == "pending")
            await receiver.respond { _, _ in .init() }
            try await Self.sending(server) {
                await receiver.waitFor(2)
                let succeeded = try await eventually {
                    try await Self.deliveries(client, server, id).first?["status"] as? String == "succeeded"
                }
                #expect(succeeded)
            }
        }
        await receiver.stop()
    }
}
