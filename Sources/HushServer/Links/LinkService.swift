import Foundation
import HushCore
import HushStore
import Synchronization

/// Signs and reads the links Hush puts into messages, with the keys the store holds. Keys are
/// read again every minute (so a key rotated by `hush link-keys rotate` signs new links within a
/// minute) and whenever a token names a key this process has not seen.
final class LinkService: Sendable {
    let store: any LinkStore
    let configuration: ServerConfiguration
    private static let lifetime = Duration.seconds(60)
    private let signer = Mutex<(signer: LinkSigner, loaded: ContinuousClock.Instant)?>(nil)

    init(store: any LinkStore, configuration: ServerConfiguration) {
        self.store = store
        self.configuration = configuration
    }

    func sign(_ claims: LinkClaims) async throws -> String {
        try await currentSigner().sign(claims)
    }

    func verify(_ token: String) async throws -> (claims: LinkClaims, tokenID: String) {
        let current = try await currentSigner()
        do {
            return try current.verify(token)
        } catch {
            // Perhaps signed with a key added since: read the keys again, at most once a second
            // (made-up links must not each cost a database read).
            guard let loaded = signer.withLock({ $0?.loaded }), ContinuousClock.now - loaded >= Self.reloadAfterMiss else { throw error }
            return try await loadSigner().verify(token)
        }
    }

    private static let reloadAfterMiss = Duration.seconds(1)

    func formToken(for tokenID: String) async throws -> String {
        try await currentSigner().formToken(for: tokenID)
    }

    /// Whether `value` is the form token of the link `tokenID`. A form rendered by a node that
    /// already signs with a newly rotated key may be posted to one that has not read it yet:
    /// the keys are read again then, as `verify` does.
    func isValidFormToken(_ value: String, for tokenID: String) async throws -> Bool {
        if try await currentSigner().isValidFormToken(value, for: tokenID) { return true }
        guard let loaded = signer.withLock({ $0?.loaded }), ContinuousClock.now - loaded >= Self.reloadAfterMiss else { return false }
        return try await loadSigner().isValidFormToken(value, for: tokenID)
    }

    func unsubscribeURL(_ token: String) -> String { configuration.baseURL + "/u/" + token }
    func confirmURL(_ token: String) -> String { configuration.baseURL + "/c/" + token }

    /// The signer of new links, for signing inside a store transaction.
    func currentSigner() async throws -> LinkSigner {
        if let cached = signer.withLock({ $0 }), ContinuousClock.now - cached.loaded < Self.lifetime { return cached.signer }
        return try await loadSigner()
    }

    private func loadSigner() async throws -> LinkSigner {
        let loaded = try LinkSigner(keys: try await store.linkKeys())
        signer.withLock { $0 = (loaded, ContinuousClock.now) }
        return loaded
    }
}
