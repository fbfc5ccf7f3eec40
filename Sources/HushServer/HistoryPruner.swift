import Foundation
import HushStore
import Logging
import ServiceLifecycle

/// Removes history past its retention, hourly, a little at a time: finished webhook deliveries
/// and the events they carried, old sends and their reports, and sends a stopped server left
/// incomplete, expired console sessions.
struct HistoryPruner: Service {
    static let interval: Duration = .seconds(3_600)
    /// A send still incomplete after this long belonged to a request that died with its server.
    static let abandonedAfter: TimeInterval = 3_600
    /// How long a provider's message id is remembered, so a replayed webhook changes nothing.
    static let providerMessageRetention: TimeInterval = 90 * 86_400

    let store: any InboundStore & SendReports & WebhookQueue & ConsoleStore
    let webhookRetention: Duration
    let sendRetention: Duration
    let logger: Logger
    let now: @Sendable () -> Date

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    await prune(now: now())
                    try await Task.sleep(for: Self.interval)
                }
            }
        } catch is CancellationError {
            // Shutting down.
        }
    }

    /// One round; a failure is logged and tried again next round.
    func prune(now: Date) async {
        do {
            let webhooks = try await store.pruneWebhooks(finishedBefore: now.addingTimeInterval(-webhookRetention.seconds))
            let sends = try await store.pruneSends(
                createdBefore: now.addingTimeInterval(-sendRetention.seconds), incompleteBefore: now.addingTimeInterval(-Self.abandonedAfter))
            let messages = try await store.pruneProviderMessages(before: now.addingTimeInterval(-Self.providerMessageRetention))
            let sessions = try await store.pruneSessions(expiredBefore: now)
            if webhooks.deliveries + webhooks.events + sends + messages + sessions > 0 {
                logger.info("pruned history", metadata: [
                    "webhook_deliveries": "\(webhooks.deliveries)", "webhook_events": "\(webhooks.events)", "sends": "\(sends)",
                    "provider_message_ids": "\(messages)", "console_sessions": "\(sessions)",
                ])
            }
        } catch is CancellationError {
        } catch {
            logger.warning("could not prune history", metadata: ["error": "\(error)"])
        }
    }
}
