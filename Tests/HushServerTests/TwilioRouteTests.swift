import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// The Twilio route as an attacker sees it: unsigned posts, unknown organizations, replays.
@Suite(.everyBackend) struct TwilioRouteTests {
    static let base = "https://hush.example.com"

    private func post(
        _ client: any TestClientProtocol, org: String = "acme", token: String?, _ parameters: [(name: String, value: String)]
    ) async throws -> (status: HTTPResponse.Status, body: String) {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        if let token {
            headers[.twilioSignature] = TwilioSignature.compute(authToken: token, url: Self.base + "/inbound/twilio/" + org, parameters: parameters)
        }
        let form = parameters.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await client.execute(uri: "/inbound/twilio/\(org)", method: .post, headers: headers, body: ByteBuffer(string: form)) {
            ($0.status, String(buffer: $0.body))
        }
    }

    private func message(_ body: String, sid: String, from: String = "+14155550100") -> [(name: String, value: String)] {
        [("From", from), ("To", "+18005551212"), ("Body", body), ("MessageSid", sid)]
    }

    @Test func withoutATokenEveryPostIsRefusedAndUnknownOrganizationsLookTheSame() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicURL: Self.base))
        try await server.test { client in
            let stop = try await post(client, token: nil, message("STOP", sid: "SM1"))
            let start = try await post(client, token: nil, [("From", "+14155550100"), ("To", "+18005551212"), ("Body", "hi"), ("OptOutType", "START")])
            let unknown = try await post(client, org: "nobody", token: nil, message("STOP", sid: "SM1"))
            let signedUnknown = try await post(client, org: "nobody", token: "12345", message("STOP", sid: "SM1"))
            #expect(stop.status == .forbidden)
            #expect(start.status == .forbidden)
            #expect(unknown.status == .forbidden)
            #expect(stop.body == unknown.body && unknown.body == signedUnknown.body, "a name cannot be told from its answer")
            #expect(!stop.body.contains("<Response"), "no TwiML for a refused post")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == true, "nothing recorded")
            let messages = try await client.send(.get, "/v1/review", key: server.admin).json["messages"] as? [Any]
            #expect(messages?.isEmpty == true)
        }
    }

    @Test func aReplayedSignedStartAfterALaterStopChangesNothing() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicURL: Self.base))
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"twilio_auth_token": "12345"}"#)
            #expect(try await post(client, token: "12345", message("STOP", sid: "SM1")).status == .ok)
            let start = message("START", sid: "SM2")
            #expect(try await post(client, token: "12345", start).status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == true)
            #expect(try await post(client, token: "12345", message("STOP", sid: "SM3")).status == .ok)

            let count = try await client.events(server).count
            let replayed = try await post(client, token: "12345", start)
            #expect(replayed.status == .ok)
            #expect(replayed.body == #"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
            #expect(try await client.events(server).count == count)
        }
    }

    /// A STOP sent to a short code is an opt-out like any other: the recipient is kept as given,
    /// and no message is refused for it.
    @Test func aStopToAShortCodeIsRecorded() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicURL: Self.base))
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"twilio_auth_token": "12345"}"#)
            let stop = try await post(client, token: "12345", [("From", "+14155550100"), ("To", "898211"), ("Body", "STOP"), ("MessageSid", "SM1")])
            #expect(stop.status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
            let posted = try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"{"channel": "sms", "from": "+14155550101", "to": "12345", "body": "STOP"}"#)
            #expect(posted.json["result"] as? String == "opt_out")
            #expect(try await client.allowed(server, "address=%2B14155550101&channel=sms") == false)
            let evidence = try #require(try await client.events(server).last?["evidence"] as? [String: Any])
            #expect(evidence["to"] as? String == "12345")
        }
    }

    @Test func theRouteIsRateLimitedPerOrganization() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicURL: Self.base, inboundRequestsPerMinute: 2))
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"twilio_auth_token": "12345"}"#)
            // Unsigned posts count against their sender's address, not the organization's
            // messages: Twilio's signed STOP still gets through.
            let first = try await post(client, token: nil, message("hi", sid: "SM1"))
            let second = try await post(client, token: nil, message("hi", sid: "SM2"))
            let third = try await post(client, org: "other", token: nil, message("hi", sid: "SM3"))
            #expect(first.status == .forbidden)
            #expect(second.status == .forbidden)
            #expect(third.status == .tooManyRequests, "refused posts are limited by address, whatever organization they name")
            #expect(try await post(client, token: "12345", message("STOP", sid: "SM4")).status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
            #expect(try await post(client, token: "12345", message("hi", sid: "SM5")).status == .ok)
            #expect(try await post(client, token: "12345", message("hi", sid: "SM6")).status == .tooManyRequests, "signed ones by organization")
        }
    }

    /// Provider message ids are forgotten after 90 days, but the messages recorded with them are
    /// not: an old signed START replayed then still lifts no later STOP.
    @Test func aStartReplayedAfterItsIdWasPrunedChangesNothing() async throws {
        let server = try await TestServer()
        try await server.test { client in
            func message(_ body: String, _ id: String) -> String {
                #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "\#(body)", "provider_message_id": "\#(id)"}"#
            }
            try await client.send(.post, "/v1/inbound", key: server.inbound, json: message("STOP", "SM1"))
            try await client.send(.post, "/v1/inbound", key: server.inbound, json: message("START", "SM2"))
            try await client.send(.post, "/v1/inbound", key: server.inbound, json: message("STOP", "SM3"))
            #expect(try await server.store.pruneProviderMessages(before: Date().addingTimeInterval(91 * 86_400)) == 3)
            let replay = try await client.send(.post, "/v1/inbound", key: server.inbound, json: message("START", "SM2"))
            #expect(replay.json["result"] as? String == "duplicate")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
        }
    }

    /// A WhatsApp sender sent without its `+` is the international number it always is, not a
    /// national one in the organization's region (`+4914155550100` in Germany).
    @Test func aWhatsAppSenderWithoutItsPlusIsInternational() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"default_region": "DE"}"#)
            let stop = try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"{"channel": "whatsapp", "from": "14155550100", "to": "+18005551212", "body": "STOP"}"#)
            #expect(stop.json["result"] as? String == "opt_out", "\(stop.json)")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=whatsapp") == false)
            #expect(try await client.allowed(server, "address=%2B4914155550100&channel=whatsapp") == true)
        }
    }

    @Test func aReplayedInboundMessageIdChangesNothing() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let stop = #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "STOP", "provider_message_id": "SM9"}"#
            let start = #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "START", "provider_message_id": "SM10"}"#
            #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: stop).json["result"] as? String == "opt_out")
            #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: start).json["result"] as? String == "opt_in")
            try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "STOP", "provider_message_id": "SM11"}"#)
            let replay = try await client.send(.post, "/v1/inbound", key: server.inbound, json: start)
            #expect(replay.status == .ok)
            #expect(replay.json["result"] as? String == "duplicate")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
        }
    }
}
