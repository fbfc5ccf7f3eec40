import Foundation

/// A webhook URL that passed `WebhookTarget`'s checks, and where to connect for it.
public struct WebhookDestination: Hashable, Sendable {
    public let url: URL
    /// The host as the URL names it: the Host header, TLS server name and certificate check use it.
    public let host: String
    /// The checked address to connect to instead of resolving `host` again; nil when private
    /// targets are allowed and nothing was checked.
    public let pinnedAddress: IPAddress?

    init(url: URL, host: String, pinnedAddress: IPAddress?) {
        self.url = url
        self.host = host
        self.pinnedAddress = pinnedAddress
    }
}
