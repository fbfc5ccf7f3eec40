import HushCore
import Testing

@Suite struct WebhookTargetTests {
    @Test(arguments: ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                      "0.0.0.0", "::1", "::", "fd00::1", "fe80::1%eth0", "::ffff:127.0.0.1", "::ffff:10.0.0.1"])
    func privateAddressesAreRecognised(address: String) {
        #expect(WebhookTarget.isPrivate(address), "\(address)")
    }

    @Test(arguments: ["8.8.8.8", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
    func publicAddressesPass(address: String) {
        #expect(!WebhookTarget.isPrivate(address), "\(address)")
    }

    @Test func localTargetsAreRefusedUnlessAllowed() throws {
        for url in ["http://127.0.0.1:9000/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x"] {
            #expect(throws: HushError.self, "\(url)") { try WebhookTarget.validate(url, allowPrivate: false) }
            #expect(throws: Never.self, "\(url)") { try WebhookTarget.validate(url, allowPrivate: true) }
        }
        for url in ["ftp://example.com/x", "not a url", "https://"] {
            #expect(throws: HushError.self, "\(url)") { try WebhookTarget.validate(url, allowPrivate: true) }
        }
    }

    @Test func eventsAreChecked() throws {
        #expect(try WebhookEndpoint.validateEvents(["opt_in.created", "opt_out.created", "opt_out.created"]) == ["opt_in.created", "opt_out.created"])
        #expect(throws: HushError.invalid("events[1]", "\"opt_out.deleted\" is not an event; use opt_out.created, opt_in.created, opt_in.requested, inbound.needs_review, send.blocked, connector.failed")) {
            try WebhookEndpoint.validateEvents(["opt_out.created", "opt_out.deleted"])
        }
        #expect(throws: HushError.self) { try WebhookEndpoint.validateEvents([]) }
    }
}
