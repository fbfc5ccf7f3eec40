import Hummingbird
import HushCore

/// What a request carries through the middleware to its route: the caller, once authenticated.
public struct HushRequestContext: RequestContext {
    /// Request bodies larger than this are refused with 413 (documented in the README and the
    /// OpenAPI document): room for a 100 000-address check.
    public static let maximumBodyBytes = 16 * 1024 * 1024

    public var coreContext: CoreRequestContextStorage
    /// Set by the key middleware on every `/v1` route.
    public var principal: Principal?
    /// Set by the console's session middleware on every signed-in `/console` route.
    var console: ConsoleSignedIn?

    /// The client's IP address, for rate limits and the evidence of public writes: the peer's,
    /// or behind a trusted proxy the address it forwards for.
    public var remoteIP: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteIP = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    public var maxUploadSize: Int { Self.maximumBodyBytes }

    /// The caller; routes under `/v1` run only after the key middleware set it.
    public func caller() throws -> Principal {
        guard let principal else { throw Problem.unauthorized("an API key is required") }
        return principal
    }

    /// The signed-in console user; console pages run only after the session middleware set it.
    func signedIn() throws -> ConsoleSignedIn {
        guard let console else { throw Problem.unauthorized("sign in to the console first") }
        return console
    }
}
