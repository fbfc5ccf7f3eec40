import HushCore
import HushTestSupport
import Testing
@testable import HushServer

@Suite(.everyBackend) struct RecipientStreamTests {
    /// What the stream made of a body fed in chunks of `size`.
    struct Outcome {
        var recipients: [[String?]] = []
        var fields: [String: String] = [:]
        /// The field and message of the refusal, if the body was refused.
        var refusal: Problem.FieldError?
        /// Bytes pushed when the stream answered; all of them unless it refused early.
        var fed = 0
        var scanned = 0
    }

    static func feed(_ body: [UInt8], chunks size: Int) -> Outcome {
        var stream = RecipientStream(fields: SendRoutes.headerFields)
        var outcome = Outcome()
        do {
            while outcome.fed < body.count {
                let start = outcome.fed
                outcome.fed = min(start + size, body.count)
                outcome.recipients += try stream.push(body[start..<outcome.fed]).map { [$0.address, $0.contact, $0.ref] }
            }
            try stream.finish()
        } catch {
            outcome.refusal = (error as? Problem)?.errors.first ?? Problem.FieldError(field: "?", message: "\(error)")
        }
        outcome.fields = stream.fields.mapValues { String(decoding: $0, as: UTF8.self) }
        outcome.scanned = stream.scanned
        return outcome
    }

    static let eightMiB = 8 * 1024 * 1024

    @Test func anEndlessRefIsRefusedAsSoonAsItPassesTheLimit() {
        let head = Array(#"{"channel": "email", "recipients": ["a@example.com", "b@example.com", "c@example.com", {"address": "d@example.com", "ref": ""#.utf8)
        let body = head + Array(repeating: UInt8(ascii: "r"), count: Self.eightMiB) + Array(#""}]}"#.utf8)

        let outcome = Self.feed(body, chunks: 64 * 1024)

        #expect(outcome.refusal == Problem.FieldError(field: "recipients[3].ref", message: "ref is longer than 255 bytes"))
        #expect(outcome.fed == 64 * 1024, "refused within the first chunk, 8 MiB before the ref ends")
        #expect(outcome.scanned <= head.count + RecipientStream.maximumRecipientBytes + 1)
    }

    @Test func aSendWithAnEightMiBRefIsAnsweredWithTheRefField() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let body = #"{"channel": "email", "recipients": [{"address": "a@example.com", "ref": ""# + String(repeating: "r", count: Self.eightMiB) + #""}]}"#

            let (status, problem) = try await SendTests.post(client, "/v1/sends", key: server.member, body: body)

            #expect(status == .badRequest)
            #expect((problem["errors"] as? [[String: Any]])?.first?["field"] as? String == "recipients[0].ref")
        }
    }

    @Test func anEndlessAddressIsRefusedAsSoonAsItPassesTheLimit() {
        let head = Array(#"{"channel": "email", "recipients": [""#.utf8)
        let body = head + Array(repeating: UInt8(ascii: "a"), count: Self.eightMiB) + Array(#"@example.com"]}"#.utf8)

        let outcome = Self.feed(body, chunks: 64 * 1024)

        #expect(outcome.refusal?.field == "recipients[0]")
        #expect(outcome.refusal?.message == "a recipient is longer than \(RecipientStream.maximumRecipientBytes) bytes of JSON")
        #expect(outcome.fed == 64 * 1024, "refused within the first chunk, 8 MiB before the address ends")
    }

    @Test func anEndlessNameIsRefusedWithTheNameLimit() {
        let body = Array(#"{"channel": "email", "name": ""#.utf8) + Array(repeating: UInt8(ascii: "n"), count: Self.eightMiB) + Array(#"", "recipients": []}"#.utf8)

        let outcome = Self.feed(body, chunks: 64 * 1024)

        #expect(outcome.refusal == Problem.FieldError(field: "name", message: "name is longer than 200 characters"))
        #expect(outcome.fed <= 2 * 64 * 1024)
    }

    @Test func anEndlessFieldNameIsRefused() {
        let body = Array(#"{""#.utf8) + Array(repeating: UInt8(ascii: "k"), count: Self.eightMiB) + Array(#"": 1}"#.utf8)

        let outcome = Self.feed(body, chunks: 64 * 1024)

        #expect(outcome.refusal?.field == "body")
        #expect(outcome.fed == 64 * 1024)
    }

    @Test func theLimitIsTheSameWhateverTheChunking() {
        func body(recipientBytes: Int) -> [UInt8] {
            let address = String(repeating: "a", count: recipientBytes - 2)
            return Array(#"{"channel": "email", "recipients": [""#.utf8) + Array(address.utf8) + Array(#""]}"#.utf8)
        }
        let limit = RecipientStream.maximumRecipientBytes
        for size in [1, 7, 4096, limit + 100] {
            let atLimit = Self.feed(body(recipientBytes: limit), chunks: size)
            #expect(atLimit.refusal == nil, "chunks of \(size)")
            #expect(atLimit.recipients.count == 1)
            let over = Self.feed(body(recipientBytes: limit + 1), chunks: size)
            #expect(over.refusal?.field == "recipients[0]", "chunks of \(size)")
        }
    }

    @Test func aLongBodyInOneByteChunksReadsAsWholeAndEachByteOnce() {
        let ref = String(repeating: #"r\"\\\u00e9"#, count: 25)
        let entry = #"{ "address" :  "p@example.com" ,"contact": "crm-\u0031",   "ref": "\#(ref)" }"#
        var text = #"{"name": "sp\"ring\u00e9", "lists": ["a", 2],  "channel": "email", "recipients": ["#
        var count = 0
        while text.utf8.count < 1 << 20 {
            text += (count == 0 ? "" : ",") + String(repeating: " ", count: count % 50) + (count.isMultiple(of: 2) ? entry : #""q\#(count)@example.com""#)
            count += 1
        }
        text += #"] ,"scope": "x"}"#
        let body = Array(text.utf8)

        let whole = Self.feed(body, chunks: body.count)
        let bytewise = Self.feed(body, chunks: 1)

        #expect(whole.refusal == nil && bytewise.refusal == nil)
        #expect(whole.recipients.count == count)
        #expect(whole.recipients[0] == ["p@example.com", "crm-1", String(repeating: "r\"\\é", count: 25)])
        #expect(bytewise.recipients == whole.recipients)
        #expect(bytewise.fields == whole.fields)
        #expect(whole.fields["name"] == #""sp\"ring\u00e9""#)
        #expect(bytewise.scanned == whole.scanned)
        #expect(bytewise.scanned <= body.count, "each byte read once while looking for where values end")
    }
}
