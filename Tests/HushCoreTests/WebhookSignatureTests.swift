import HushCore
import Testing

@Suite struct WebhookSignatureTests {
    /// The example in the Standard Webhooks specification.
    @Test func theSpecificationsExample() throws {
        let secret = try WebhookSecret(parsing: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let signature = WebhookSignature.sign(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(WebhookSignature.verify(header: signature, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: secret))
        #expect(!WebhookSignature.verify(header: signature, id: "msg_other", timestamp: 1_614_265_330, body: body, secret: secret))
        #expect(!WebhookSignature.verify(header: signature, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331, body: body, secret: secret))
    }

    @Test func duringRotationBothSignaturesAreSent() throws {
        let old = WebhookSecret.generate()
        let new = WebhookSecret.generate(byteCount: 48)
        let body = Array(#"{"type":"opt_out.created"}"#.utf8)
        let header = WebhookSignature.header(id: "evt_1", timestamp: 1_795_000_000, body: body, secrets: [new, old])
        #expect(header.split(separator: " ").count == 2)
        #expect(WebhookSignature.verify(header: header, id: "evt_1", timestamp: 1_795_000_000, body: body, secret: old))
        #expect(WebhookSignature.verify(header: header, id: "evt_1", timestamp: 1_795_000_000, body: body, secret: new))
        #expect(!WebhookSignature.verify(header: header, id: "evt_1", timestamp: 1_795_000_000, body: body, secret: WebhookSecret.generate()))
    }

    @Test func secretsAreWhsecAndBase64Of24To64Bytes() throws {
        let secret = WebhookSecret.generate()
        #expect(secret.description.hasPrefix("whsec_"))
        #expect(try WebhookSecret(parsing: secret.description) == secret)
        #expect(throws: HushError.self) { try WebhookSecret(parsing: "whsec_" + "c2hvcnQ=") }
        #expect(throws: HushError.self) { try WebhookSecret(parsing: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") }
        #expect(throws: HushError.self) { try WebhookSecret(bytes: [UInt8](repeating: 1, count: 65)) }
    }
}
