import Crypto
import Foundation

/// Twilio's request signature (`X-Twilio-Signature`): base64 of HMAC-SHA1, keyed with the
/// account's auth token, over the full URL Twilio requested followed by every POST parameter,
/// sorted by name, as name and value with no separators.
public enum TwilioSignature {
    public static func compute(authToken: String, url: String, parameters: [(name: String, value: String)]) -> String {
        var signed = url
        for (name, value) in parameters.sorted(by: { ($0.name, $0.value) < ($1.name, $1.value) }) {
            signed += name + value
        }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(signed.utf8), using: SymmetricKey(data: Data(authToken.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Compares in constant time.
    public static func isValid(_ signature: String, authToken: String, url: String, parameters: [(name: String, value: String)]) -> Bool {
        let expected = Array(compute(authToken: authToken, url: url, parameters: parameters).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
