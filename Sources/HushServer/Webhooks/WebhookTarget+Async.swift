import Foundation
import HushCore

extension WebhookTarget {
    /// `destination`, with the name resolution (which blocks) on a thread of its own rather than
    /// one of the cooperative pool's.
    static func destination(for url: String, allowPrivate: Bool, field: String = "url") async throws(HushError) -> WebhookDestination {
        let result: Result<WebhookDestination, HushError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Result { () throws(HushError) in try destination(url, allowPrivate: allowPrivate, field: field) })
            }
        }
        return try result.get()
    }

    /// `validate`, off the cooperative pool.
    static func check(_ url: String, allowPrivate: Bool, field: String = "url") async throws(HushError) {
        _ = try await destination(for: url, allowPrivate: allowPrivate, field: field)
    }
}
