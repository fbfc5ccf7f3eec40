import Foundation
import HushCore

extension WebhookTarget {
    /// `validate`, with the name resolution (which blocks) on a thread of its own rather than
    /// one of the cooperative pool's.
    static func check(_ url: String, allowPrivate: Bool, field: String = "url") async throws(HushError) {
        let result: Result<URL, HushError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Result { () throws(HushError) in try validate(url, allowPrivate: allowPrivate, field: field) })
            }
        }
        _ = try result.get()
    }
}
