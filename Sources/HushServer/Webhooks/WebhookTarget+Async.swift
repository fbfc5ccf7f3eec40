import Foundation
import HushCore
import NIOPosix

extension WebhookTarget {
    /// `destination`, with the name resolution (which blocks) on NIO's shared thread pool rather
    /// than a thread of the cooperative pool.
    static func destination(for url: String, allowPrivate: Bool, field: String = "url") async throws(HushError) -> WebhookDestination {
        let result: Result<WebhookDestination, HushError>
        do {
            result = try await NIOThreadPool.singleton.runIfActive {
                Result { () throws(HushError) in try destination(url, allowPrivate: allowPrivate, field: field) }
            }
        } catch {
            throw HushError(.storage, field: field, "the address of \(url) could not be looked up now; try again")
        }
        return try result.get()
    }

    /// `validate`, off the cooperative pool.
    static func check(_ url: String, allowPrivate: Bool, field: String = "url") async throws(HushError) {
        _ = try await destination(for: url, allowPrivate: allowPrivate, field: field)
    }
}
