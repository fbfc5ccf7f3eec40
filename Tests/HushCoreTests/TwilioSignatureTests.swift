import HushCore
import Testing

@Suite struct TwilioSignatureTests {
    static let url = "https://mycompany.com/myapp.php?foo=1&bar=2"

    static func parameters(_ caller: String) -> [(name: String, value: String)] {
        [("To", "+18005551212"), ("From", caller), ("Digits", "1234"), ("Caller", caller), ("CallSid", "CA1234567890ABCDE")]
    }

    /// The examples Twilio publishes in its security documentation and helper libraries
    /// (auth token 12345).
    @Test(arguments: [("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")])
    func twiliosPublishedExamples(caller: String, signature: String) {
        #expect(TwilioSignature.compute(authToken: "12345", url: Self.url, parameters: Self.parameters(caller)) == signature)
        #expect(TwilioSignature.isValid(signature, authToken: "12345", url: Self.url, parameters: Self.parameters(caller)))
    }

    @Test func anythingChangedFailsValidation() {
        let signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        let parameters = Self.parameters("+14158675309")
        #expect(!TwilioSignature.isValid(signature, authToken: "54321", url: Self.url, parameters: parameters))
        #expect(!TwilioSignature.isValid(signature, authToken: "12345", url: Self.url + "&x=1", parameters: parameters))
        #expect(!TwilioSignature.isValid(signature, authToken: "12345", url: Self.url, parameters: parameters + [("Body", "STOP")]))
        #expect(!TwilioSignature.isValid("", authToken: "12345", url: Self.url, parameters: parameters))
    }
}
