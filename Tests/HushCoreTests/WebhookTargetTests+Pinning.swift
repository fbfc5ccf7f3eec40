@testable import HushCore
import Testing

extension WebhookTargetTests {
    @Test func theFirstResolvedAddressIsPinnedWhenEveryOneIsPublic() throws {
        let pinned = try WebhookTarget.pin("hooks.example", resolvedTo: ["2606:4700::1111", "93.184.216.34"])
        #expect(pinned == IPAddress(parsing: "2606:4700::1111"))
    }

    @Test(arguments: [["93.184.216.34", "127.0.0.1"], ["169.254.169.254", "93.184.216.34"], ["93.184.216.34", "not an address"], []])
    func aNameWithAnyAddressInsideOrNoneIsRefused(addresses: [String]) {
        // The same answer whatever the name resolved to, naming no address: a tenant cannot map
        // the operator's internal names through the server's resolver.
        #expect(throws: HushError.invalid("url", "hooks.example does not resolve to public addresses only; webhooks must reach a public host")) {
            try WebhookTarget.pin("hooks.example", resolvedTo: addresses)
        }
    }

    @Test func checkedTargetsCarryTheAddressToConnectToUnlessPrivateTargetsAreAllowed() throws {
        let checked = try WebhookTarget.destination("https://8.8.8.8:8443/hook", allowPrivate: false)
        #expect(checked.host == "8.8.8.8")
        #expect(checked.pinnedAddress == IPAddress(8, 8, 8, 8))
        let unchecked = try WebhookTarget.destination("http://127.0.0.1:9000/hook", allowPrivate: true)
        #expect(unchecked.pinnedAddress == nil)
    }
}
