import Foundation
import HushCore
import Testing

@Suite struct WebhookRetryPolicyTests {
    @Test func theStandardScheduleSpreadsEachDelayByATenth() {
        let policy = WebhookRetryPolicy()
        #expect(policy.attempts == 10)
        for (offset, base) in WebhookRetryPolicy.standardDelays.enumerated() {
            let delay = try? #require(policy.delay(afterAttempt: offset + 1, retryAfter: nil))
            #expect(delay.map { $0 >= base * 0.9 && $0 <= base * 1.1 } == true, "attempt \(offset + 1)")
        }
        #expect(policy.delay(afterAttempt: 10, retryAfter: nil) == nil, "dead after the last")
        #expect(policy.delay(afterAttempt: 10, retryAfter: 5) == nil, "Retry-After does not add attempts")
    }

    @Test func retryAfterTakesTheSchedulesPlaceWithinADay() {
        let policy = WebhookRetryPolicy(delays: [300], jitter: 0)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 2) == 2)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 10 * 86_400) == 86_400)
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil) == 300)
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_784_000_000)
        #expect(WebhookRetryPolicy.retryAfter("120", now: now) == 120)
        #expect(WebhookRetryPolicy.retryAfter(" 0 ", now: now) == 0)
        #expect(WebhookRetryPolicy.retryAfter("-3", now: now) == nil)
        #expect(WebhookRetryPolicy.retryAfter("soon", now: now) == nil)
        // RFC 9110's example form, 90 seconds after `now`.
        let later = now.addingTimeInterval(90)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        #expect(WebhookRetryPolicy.retryAfter(formatter.string(from: later), now: now) == 90)
    }

    @Test func delaysAreParsedFromConfiguration() throws {
        #expect(try WebhookRetryPolicy(parsing: "1, 2,4").delays == [1, 2, 4])
        #expect(throws: HushError.self) { try WebhookRetryPolicy(parsing: "") }
        #expect(throws: HushError.self) { try WebhookRetryPolicy(parsing: "1,x") }
        #expect(throws: HushError.self) { try WebhookRetryPolicy(parsing: "-1") }
    }
}

@Suite struct WebhookEventTests {
    let event = LedgerEvent(
        sequence: 7, organization: OrganizationID(rawValue: 1), kind: .optOut, recordedAt: Date(timeIntervalSince1970: 1_784_000_000),
        subject: .address("+14155550100"), channel: .only(.sms), scope: try! Scope(parsing: "acme/client-9"), list: ListID(rawValue: 3),
        source: .keyword, actor: "recipient", evidence: Evidence(["raw_text": .string("STOP \"now\""), "count": .number(2)]))

    @Test func theEnvelopeCarriesEverythingAReceiverActsOn() throws {
        var announced = WebhookEvent(event, address: "+14155550100", listName: "Promos")
        announced.id = 42
        #expect(String(decoding: announced.body, as: UTF8.self) == #"{"id":42,"type":"opt_out.created","sequence":7,"occurred_at":"2026-07-14T03:33:20.000Z","data":{"address":"+14155550100","contact":null,"channel":"sms","scope":"acme/client-9","list":3,"list_name":"Promos","source":"keyword","actor":"recipient","hold":false,"evidence":{"count":2,"raw_text":"STOP \"now\""}}}"#)
        #expect(announced.webhookID(endpoint: WebhookID(5)) == "msg_l7_5", "a ledger event is named by its sequence")
        let review = WebhookEvent(id: 17, kind: .inboundNeedsReview, sequence: nil, occurredAt: Date(), list: nil, data: "{}")
        #expect(review.webhookID(endpoint: WebhookID(5)) == "msg_e17_5")
        #expect(String(decoding: announced.listBody, as: UTF8.self) == #"{"opt_list_name":"Promos","mobile":"+14155550100","email":null,"channel_id":"sms"}"#)
    }

    @Test func endpointsMatchByEventAndList() {
        let all = WebhookEndpoint(url: "https://example.com", events: ["opt_out.created"])
        #expect(all.wants(.optOutCreated, list: ListID(rawValue: 3)))
        #expect(!all.wants(.optInCreated, list: ListID(rawValue: 3)))
        let some = WebhookEndpoint(url: "https://example.com", events: ["opt_out.created", "inbound.needs_review"], lists: [ListID(rawValue: 4)])
        #expect(!some.wants(.optOutCreated, list: ListID(rawValue: 3)))
        #expect(some.wants(.optOutCreated, list: ListID(rawValue: 4)))
        #expect(some.wants(.inboundNeedsReview, list: nil), "events about no list reach list-filtered endpoints")
        var disabled = all
        disabled.enabled = false
        #expect(!disabled.wants(.optOutCreated, list: nil) && disabled.subscribes(to: .optOutCreated, list: nil))
    }
}
