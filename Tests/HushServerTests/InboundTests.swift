import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

@Suite(.everyBackend) struct InboundTests {
    private func inbound(_ body: String, from: String = "+14155550100", channel: String = "sms") -> String {
        #"{"channel": "\#(channel)", "from": "\#(from)", "to": "+18005551212", "body": "\#(body)", "provider_message_id": "SM\#(UUID().uuidString)"}"#
    }

    @Test func stopRepliesOnceAndStartLiftsOnlyWhatAKeywordStopped() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true}"#)
            // A rep's opt-out on voice, which START must not lift.
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "+14155550100", "channel": "voice", "source": "rep"}"#)
            let stop = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound(" Stop!!! "))
            #expect(stop.status == .ok)
            #expect(stop.json["result"] as? String == "opt_out")
            #expect(stop.json["reply"] as? String == InboundSettings.defaultOptOutReply)
            let event = try #require((stop.json["events"] as? [[String: Any]])?.first)
            #expect(event["source"] as? String == "keyword")
            #expect(event["channel"] as? String == "sms")
            let evidence = try #require(event["evidence"] as? [String: Any])
            #expect(evidence["text"] as? String == " Stop!!! ")
            #expect(evidence["keyword"] as? String == "STOP")
            #expect((evidence["provider_message_id"] as? String)?.hasPrefix("SM") == true)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)

            let again = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("STOP"))
            #expect(again.json["reply"] is NSNull, "one reply per opt-out within 24 hours")
            #expect((again.json["events"] as? [Any])?.isEmpty == true)

            let start = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("start"))
            #expect(start.json["result"] as? String == "opt_in")
            #expect(start.json["reply"] as? String == InboundSettings.defaultOptInReply)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == true)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=voice") == false, "the rep's opt-out stays")
        }
    }

    @Test func withoutGranularOptOutsStopCoversEveryChannel() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let stop = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("unsubscribe me", channel: "whatsapp"))
            #expect(stop.json["result"] as? String == "opt_out")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=voice") == false)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
        }
    }

    @Test func listKeywordsHelpAndReview() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true, "help_text": "Acme alerts. Reply STOP to stop."}"#)
            let promo = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos", "keywords": ["PROMO STOP"], "message": "No more promos.", "channels": ["sms"]}"#)
            let promoID = try #require(promo.json["id"] as? Int)
            let listStop = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("promo stop"))
            #expect(listStop.json["lists"] as? [Int] == [promoID])
            #expect(listStop.json["reply"] as? String == "No more promos.")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == true, "only the list")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms&lists=Promos") == false)

            let help = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("HELP", from: "+14155550111"))
            #expect(help.json["reply"] as? String == "Acme alerts. Reply STOP to stop.")

            let ordinary = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("Stop by the store tomorrow?", from: "+14155550122"))
            #expect(ordinary.json["result"] as? String == "needs_review")
            #expect(ordinary.json["reply"] is NSNull)
            let queue = try await client.send(.get, "/v1/review", key: server.member).json["messages"] as? [[String: Any]]
            let pending = try #require(queue?.first)
            #expect(queue?.count == 1)
            let id = try #require(pending["id"] as? Int)
            #expect(try await client.send(.post, "/v1/review/\(id)", key: server.member, json: #"{"decision": "opt_out"}"#).status == .forbidden, "review decisions need admin")
            let decided = try await client.send(.post, "/v1/review/\(id)", key: server.admin, json: #"{"decision": "opt_out"}"#)
            #expect(decided.status == .ok)
            #expect((decided.json["events"] as? [Any])?.count == 1)
            #expect(try await client.allowed(server, "address=%2B14155550122&channel=sms") == false)
            #expect(try await client.send(.post, "/v1/review/\(id)", key: server.admin, json: #"{"decision": "ignore"}"#).status == .conflict)
            #expect((try await client.send(.get, "/v1/review", key: server.member).json["messages"] as? [Any])?.isEmpty == true)
            #expect(try await client.send(.post, "/v1/review/\(id)", key: server.otherAdmin, json: #"{"decision": "ignore"}"#).status == .notFound)
            #expect(try await client.send(.post, "/v1/review/\(id)", key: server.admin, json: #"{"decision": "maybe"}"#).status == .badRequest)
        }
    }

    @Test func twilioWebhookChecksTheSignatureAndAnswersTwiML() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicURL: "https://hush.example.com"))
        try await server.test { client in
            let parameters: [(name: String, value: String)] = [("From", "+14155550100"), ("To", "+18005551212"), ("Body", "STOP"), ("MessageSid", "SM42")]
            let form = parameters.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            func post(_ signature: String?, org: String = "acme") async throws -> (HTTPResponse.Status, String) {
                var headers = HTTPFields()
                headers[.contentType] = "application/x-www-form-urlencoded"
                if let signature { headers[.twilioSignature] = signature }
                return try await client.execute(uri: "/inbound/twilio/\(org)", method: .post, headers: headers, body: ByteBuffer(string: form)) {
                    ($0.status, String(buffer: $0.body))
                }
            }
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"twilio_auth_token": "12345"}"#)
            let settings = try await client.send(.get, "/v1/settings", key: server.admin)
            #expect(settings.json["twilio_auth_token_set"] as? Bool == true)
            #expect(settings.json["twilio_auth_token"] == nil, "never echoed")
            #expect(try await post(nil).0 == .forbidden)
            #expect(try await post("bm90LXJpZ2h0").0 == .forbidden)
            let signature = TwilioSignature.compute(authToken: "12345", url: "https://hush.example.com/inbound/twilio/acme", parameters: parameters)
            let signed = try await post(signature)
            #expect(signed.0 == .ok)
            #expect(signed.1 == #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>You have been unsubscribed and will receive no more messages. Reply START to resubscribe.</Message></Response>"#)
            #expect(try await post(signature, org: "nobody").0 == .forbidden)

            // Twilio's own handling fired on a text that alone would wait for review.
            let unusual: [(name: String, value: String)] = [("From", "+14155550133"), ("To", "+18005551212"), ("Body", "stop it already you guys"), ("OptOutType", "STOP")]
            var headers = HTTPFields()
            headers[.contentType] = "application/x-www-form-urlencoded"
            headers[.twilioSignature] = TwilioSignature.compute(authToken: "12345", url: "https://hush.example.com/inbound/twilio/acme", parameters: unusual)
            let body = unusual.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            let followed = try await client.execute(uri: "/inbound/twilio/acme", method: .post, headers: headers, body: ByteBuffer(string: body)) { $0.status }
            #expect(followed == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550133&channel=sms") == false)
        }
    }

    @Test func twimlEscapesReplies() {
        #expect(TwiML.response(reply: "A & B <ok>") == #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>A &amp; B &lt;ok&gt;</Message></Response>"#)
    }

    @Test func callDispositionTriggersOptTheNumberOut() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let created = try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "Do Not Call"}, "then": {"opt_out": {"channels": ["voice"]}}}"#)
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? Int)
            #expect(try await client.send(.post, "/v1/triggers", key: server.member, json: #"{"on": "call.logged", "when": {"disposition": "x"}, "then": {"opt_out": {}}}"#).status == .forbidden)

            let other = try await client.send(.post, "/v1/activities", key: server.inbound, json: #"{"type": "call.logged", "address": "+14155550100", "disposition": "Left voicemail"}"#)
            #expect(other.status == .created)
            #expect((other.json["events"] as? [Any])?.isEmpty == true)
            let dnc = try await client.send(.post, "/v1/activities", key: server.inbound, json: #"{"type": "call.logged", "address": "+1 415 555 0100", "disposition": "do not call", "scope": "brand"}"#)
            #expect(dnc.json["triggers"] as? [Int] == [id])
            let event = try #require((dnc.json["events"] as? [[String: Any]])?.first)
            #expect(event["source"] as? String == "trigger")
            #expect(event["channel"] as? String == "voice")
            #expect(event["scope"] as? String == "brand")
            #expect((event["evidence"] as? [String: Any])?["trigger"] as? Int == id)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=voice&scope=brand") == false)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms&scope=brand") == true)

            #expect((try await client.send(.get, "/v1/triggers", key: server.member).json["triggers"] as? [Any])?.count == 1)
            #expect(try await client.send(.delete, "/v1/triggers/\(id)", key: server.admin).status == .noContent)
            #expect(try await client.send(.delete, "/v1/triggers/\(id)", key: server.admin).status == .notFound)
            let bad: [(String, String)] = [
                (#"{"on": "email.opened", "when": {}, "then": {}}"#, "on"),
                (#"{"on": "call.logged", "when": {}, "then": {"opt_out": {}}}"#, "when.disposition"),
                (#"{"on": "message.received", "when": {"keyword": "GO"}, "then": {}}"#, "then"),
                (#"{"on": "call.logged", "when": {"disposition": "DNC"}, "then": {"opt_out": {"channels": ["fax"]}}}"#, "then.opt_out.channels[0]"),
                // A request to stop never opts anyone in; a change that would do nothing is refused.
                (#"{"on": "message.received", "when": {"keyword": "STOP PLEASE"}, "then": {"opt_in": {}}}"#, "when.keyword"),
                (#"{"on": "message.received", "when": {"keyword": "OPT OUT"}, "then": {"opt_in": {"channels": ["sms"]}}}"#, "when.keyword"),
                (#"{"on": "message.received", "when": {"keyword": "GO"}, "then": {"opt_out": {"channels": []}}}"#, "then.opt_out.channels"),
                (#"{"on": "message.received", "when": {"keyword": "GO"}, "then": {"opt_out": {"channels": ["email"]}}}"#, "then.opt_out.channels"),
                (#"{"on": "call.logged", "when": {"disposition": "DNC"}, "then": {"opt_out": {"lists": []}}}"#, "then.opt_out.lists"),
                // The other event's condition is not stored beside this one's.
                (#"{"on": "message.received", "when": {"keyword": "GO", "disposition": "DNC"}, "then": {"opt_out": {}}}"#, "when.disposition"),
                (#"{"on": "call.logged", "when": {"disposition": "DNC", "keyword": "GO"}, "then": {"opt_out": {}}}"#, "when.keyword"),
            ]
            for (body, field) in bad {
                let response = try await client.send(.post, "/v1/triggers", key: server.admin, json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(((response.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == field, "\(body)")
            }
        }
    }

    @Test func messageKeywordTriggersOptOutAndBackIn() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let promo = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos", "channels": ["sms"], "message": "Promos stopped."}"#)
            let promoID = try #require(promo.json["id"] as? Int)
            try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "PROMO STOP"}, "then": {"opt_out": {"lists": [\#(promoID)]}}}"#)
            try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "PROMO START"}, "then": {"opt_in": {"lists": [\#(promoID)]}}}"#)
            // A second trigger on the same words (read like a keyword) would fire beside the first.
            let twice = try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "promo, stop!"}, "then": {"opt_in": {}}}"#)
            #expect(twice.status == .conflict)

            let stop = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("Promo stop!"))
            #expect(stop.json["result"] as? String == "opt_out")
            #expect(stop.json["reply"] as? String == "Promos stopped.")
            let event = try #require((stop.json["events"] as? [[String: Any]])?.first)
            #expect(event["source"] as? String == "trigger")
            #expect((event["evidence"] as? [String: Any])?["trigger"] != nil)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms&lists=Promos") == false)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == true)

            let start = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("promo start"))
            #expect(start.json["result"] as? String == "opt_in")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms&lists=Promos") == true)
        }
    }

    /// A trigger whose list was deleted still records the person's opt-out: on the default list,
    /// the evidence saying why, as a one-click does.
    @Test func aTriggerWhoseListWasDeletedStillOptsThePersonOut() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let promo = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos", "channels": ["sms"]}"#)
            let promoID = try #require(promo.json["id"] as? Int)
            try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "PROMO STOP"}, "then": {"opt_out": {"lists": [\#(promoID)]}}}"#)
            #expect(try await client.send(.delete, "/v1/lists/\(promoID)", key: server.admin).status == .noContent)

            let stop = try await client.send(.post, "/v1/inbound", key: server.inbound, json: inbound("promo stop"))
            #expect(stop.status == .ok, "\(stop.json)")
            let event = try #require((stop.json["events"] as? [[String: Any]])?.first)
            #expect((event["evidence"] as? [String: Any])?["trigger_list"] as? Int == promoID)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
        }
    }

    /// A trigger changed with PUT acts on the new words from then on, under the rules a new
    /// one meets: admins only, a whole valid definition, not the words of another trigger.
    @Test func aTriggerIsChangedWithAWholeDefinition() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let promo = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos", "channels": ["sms"]}"#).json["id"] as? Int)
            let id = try #require(try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "Do Not Call"}, "then": {"opt_out": {"channels": ["voice"]}}}"#).json["id"] as? Int)
            let other = try #require(try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "PROMO STOP"}, "then": {"opt_out": {"lists": [\#(promo)]}}}"#).json["id"] as? Int)

            let changed = try await client.send(.put, "/v1/triggers/\(id)", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "Remove me"}, "then": {"opt_out": {"channels": ["voice", "sms"]}}}"#)
            #expect(changed.status == .ok, "\(changed.json)")
            #expect(changed.json["id"] as? Int == id)
            let read = try await client.send(.get, "/v1/triggers/\(id)", key: server.member).json
            #expect((read["when"] as? [String: Any])?["disposition"] as? String == "Remove me")
            #expect(((read["then"] as? [String: Any])?["opt_out"] as? [String: Any])?["channels"] as? [String] == ["voice", "sms"])

            let old = try await client.send(.post, "/v1/activities", key: server.inbound, json: #"{"type": "call.logged", "address": "+14155550100", "disposition": "Do Not Call"}"#)
            #expect((old.json["triggers"] as? [Int])?.isEmpty == true, "the old disposition no longer fires")
            let new = try await client.send(.post, "/v1/activities", key: server.inbound, json: #"{"type": "call.logged", "address": "+14155550100", "disposition": "remove me"}"#)
            #expect(new.json["triggers"] as? [Int] == [id])
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)

            // The same definition again is no conflict with itself; another trigger's words are.
            #expect(try await client.send(.put, "/v1/triggers/\(id)", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "Remove me"}, "then": {"opt_out": {"channels": ["voice"]}}}"#).status == .ok)
            let taken = try await client.send(.put, "/v1/triggers/\(id)", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "promo stop"}, "then": {"opt_out": {"channels": ["sms"]}}}"#)
            #expect(taken.status == .conflict)
            #expect((taken.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "when.keyword")
            #expect(((taken.json["errors"] as? [[String: Any]])?.first?["message"] as? String)?.contains("trigger \(other)") == true)

            let refused: [(String, HTTPResponse.Status, String?)] = [
                (#"{"on": "message.received", "when": {"keyword": "STOP NOW"}, "then": {"opt_in": {}}}"#, .badRequest, "when.keyword"),
                (#"{"on": "call.logged", "when": {"disposition": "x"}, "then": {"opt_out": {"lists": [999]}}}"#, .notFound, "then.lists"),
                (#"{"on": "call.logged", "when": {"disposition": "x"}}"#, .badRequest, "then"),
            ]
            for (body, status, field) in refused {
                let answer = try await client.send(.put, "/v1/triggers/\(id)", key: server.admin, json: body)
                #expect(answer.status == status, "\(body): \(answer.json)")
                #expect((answer.json["errors"] as? [[String: Any]])?.first?["field"] as? String == field, "\(body)")
            }
            #expect(try await client.send(.put, "/v1/triggers/\(id)", key: server.member, json: #"{"on": "call.logged", "when": {"disposition": "x"}, "then": {"opt_out": {}}}"#).status == .forbidden)
            #expect(try await client.send(.put, "/v1/triggers/999", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "x"}, "then": {"opt_out": {}}}"#).status == .notFound)
            #expect(try await client.send(.get, "/v1/triggers/999", key: server.admin).status == .notFound)
            let kept = try await client.send(.get, "/v1/triggers/\(id)", key: server.admin).json
            #expect((kept["when"] as? [String: Any])?["disposition"] as? String == "Remove me", "a refused change changes nothing")

            #expect(try await client.send(.delete, "/v1/triggers/\(id)", key: server.admin).status == .noContent)
            #expect(try await client.send(.put, "/v1/triggers/\(id)", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "x"}, "then": {"opt_out": {}}}"#).status == .notFound, "a deleted trigger stays deleted")

            // Written at once, triggers on the same words: the store lets one through, the rest
            // are refused in the transaction that would write them.
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for action in ["opt_out", "opt_in", "opt_out", "opt_in", "opt_out", "opt_in"] {
                    group.addTask {
                        try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "PROMO GO"}, "then": {"\#(action)": {"channels": ["sms"]}}}"#).status
                    }
                }
                group.addTask {
                    try await client.send(.put, "/v1/triggers/\(other)", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "promo go"}, "then": {"opt_out": {"channels": ["sms"]}}}"#).status
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created || $0 == .ok }.count == 1 && statuses.filter { $0 == .conflict }.count == 6, "\(statuses)")
            let twins = (try await client.send(.get, "/v1/triggers", key: server.admin).json["triggers"] as? [[String: Any]] ?? [])
                .filter { ($0["when"] as? [String: Any])?["keyword"] as? String != "PROMO STOP" }
            #expect(twins.count == 1, "\(twins)")
        }
    }
}
