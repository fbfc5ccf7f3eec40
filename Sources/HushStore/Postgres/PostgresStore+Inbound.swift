import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    /// The organization's keywords, help text and Twilio auth token (opened), or the defaults
    /// when it set none.
    public func inboundSettings(of organization: OrganizationID) async throws -> InboundSettings {
        let logger = self.logger
        let secretKey = configuration.secretKey
        return try await read { connection in try await Self.inboundSettings(connection, organization, secretKey: secretKey, logger: logger) }
    }

    static func inboundSettings(
        _ connection: PostgresConnection, _ organization: OrganizationID, secretKey: SecretKey, logger: Logger
    ) async throws -> InboundSettings {
        guard let row = try await connection.rows("""
            SELECT opt_out_keywords, opt_in_keywords, help_keywords, help_text, twilio_auth_token
            FROM inbound_settings WHERE org_id = \(organization.rawValue)
            """, logger: logger).first
        else {
            return InboundSettings()
        }
        let (optOut, optIn, help, helpText, sealedToken) = try row.decode((String?, String?, String?, String?, String?).self)
        func words(_ json: String?, _ fallback: [String]) throws -> [String] {
            guard let json else { return fallback }
            return try JSONDecoder().decode([String].self, from: Data(json.utf8))
        }
        return InboundSettings(
            keywords: KeywordSet(
                optOut: try words(optOut, KeywordSet.defaultOptOut), optIn: try words(optIn, KeywordSet.defaultOptIn),
                help: try words(help, KeywordSet.defaultHelp)),
            helpText: helpText ?? InboundSettings.defaultHelpText,
            twilioAuthToken: try sealedToken.map { try PostgresSecrets.open($0, with: secretKey) })
    }

    /// Changes the organization's inbound settings as stored; the Twilio auth token is sealed
    /// before it is written.
    @discardableResult
    public func updateInboundSettings(
        of organization: OrganizationID, _ change: @Sendable (inout InboundSettings) throws -> Void
    ) async throws -> InboundSettings {
        let encode = { @Sendable (words: [String]) in String(decoding: try JSONEncoder().encode(words), as: UTF8.self) }
        let secretKey = configuration.secretKey
        let logger = self.logger
        return try await transaction { connection in
            // Read as stored, under the organization's row lock, as `updateSettings` does.
            try await connection.rows("SELECT 1 FROM organizations WHERE id = \(organization.rawValue) FOR NO KEY UPDATE", logger: logger)
            var settings = try await Self.inboundSettings(connection, organization, secretKey: secretKey, logger: logger)
            try change(&settings)
            let optOut = try encode(settings.keywords.optOut), optIn = try encode(settings.keywords.optIn), help = try encode(settings.keywords.help)
            let sealedToken = settings.twilioAuthToken.map { PostgresSecrets.seal($0, with: secretKey) }
            _ = try await connection.rows("""
                INSERT INTO inbound_settings (org_id, opt_out_keywords, opt_in_keywords, help_keywords, help_text, twilio_auth_token)
                VALUES (\(organization.rawValue), \(optOut), \(optIn), \(help), \(settings.helpText), \(sealedToken))
                ON CONFLICT (org_id) DO UPDATE SET opt_out_keywords = excluded.opt_out_keywords,
                    opt_in_keywords = excluded.opt_in_keywords, help_keywords = excluded.help_keywords,
                    help_text = excluded.help_text, twilio_auth_token = excluded.twilio_auth_token
                """, logger: logger)
            return settings
        }
    }

    public func recordInbound(_ message: InboundMessage, in organization: OrganizationID) async throws -> InboundMessage {
        let logger = self.logger
        return try await transaction { connection in
            guard let id = try await connection.value("""
                INSERT INTO inbound_messages (org_id, channel, sender, recipient, body, provider_message_id, received_at, result, keyword,
                                              replied_at, review)
                VALUES (\(organization.rawValue), \(message.channel.rawValue), \(message.sender), \(message.recipient), \(message.body),
                        \(message.providerMessageID), \(StoredCoding.milliseconds(message.receivedAt)), \(message.result.rawValue),
                        \(message.keyword), \(message.repliedAt.map(StoredCoding.milliseconds)), \(message.review?.rawValue))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else { throw HushError(.storage, "the inbound message was not written") }
            var stored = message
            stored.id = MessageID(id)
            if let announced = WebhookRouting.announcement(of: stored) {
                var outbox = PostgresOutbox(connection, logger: logger, organization: organization, now: self.configuration.now())
                try await outbox.enqueue([announced], addressIDs: [nil], now: StoredCoding.milliseconds(self.configuration.now()))
            }
            return stored
        }
    }

    /// Remembers a provider's message id; false when it was remembered before (a replay).
    public func claimProviderMessage(_ id: String, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            // A message recorded with the id counts too: those outlive the pruned ids.
            let claimed = try await connection.rows("""
                INSERT INTO provider_messages (org_id, provider_message_id, received_at)
                SELECT \(organization.rawValue), \(id), \(now)
                WHERE NOT EXISTS (SELECT 1 FROM inbound_messages WHERE org_id = \(organization.rawValue) AND provider_message_id = \(id))
                ON CONFLICT DO NOTHING
                RETURNING org_id
                """, logger: logger)
            return claimed.count == 1
        }
    }

    /// Forgets a claimed id whose message could not be handled, so the provider's retry is.
    public func releaseProviderMessage(_ id: String, in organization: OrganizationID) async throws {
        let logger = self.logger
        try await transaction { connection in
            _ = try await connection.rows("""
                DELETE FROM provider_messages WHERE org_id = \(organization.rawValue) AND provider_message_id = \(id)
                """, logger: logger)
        }
    }

    public func pruneProviderMessages(before cutoff: Date) async throws -> Int {
        let logger = self.logger
        return try await transaction { connection in
            try await connection.value("""
                WITH pruned AS (DELETE FROM provider_messages WHERE received_at < \(StoredCoding.milliseconds(cutoff)) RETURNING 1)
                SELECT COUNT(*) FROM pruned
                """, as: Int64.self, logger: logger).map { Int($0) } ?? 0
        }
    }

    /// When this sender was last answered for an opt-out, if at all.
    public func lastOptOutReply(to sender: String, in organization: OrganizationID) async throws -> Date? {
        let logger = self.logger
        return try await read { connection in
            try await connection.value("""
                SELECT MAX(replied_at) FROM inbound_messages WHERE org_id = \(organization.rawValue) AND sender = \(sender) AND result = 'opt_out'
                """, as: Int64.self, logger: logger).map(StoredCoding.date)
        }
    }

    public func inboundMessages(in organization: OrganizationID, pendingReviewOnly: Bool, after: MessageID, limit: Int) async throws -> [InboundMessage] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.inboundMessageColumns) FROM inbound_messages
                WHERE org_id = \(organization.rawValue) AND id > \(after.rawValue) \(unescaped: pendingReviewOnly ? "AND review = 'pending'" : "")
                ORDER BY id LIMIT \(Int64(limit))
                """, logger: logger).map { try Self.inboundMessage(from: $0) }
        }
    }

    public func inboundMessage(_ id: MessageID, in organization: OrganizationID) async throws -> InboundMessage? {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.inboundMessageColumns) FROM inbound_messages
                WHERE org_id = \(organization.rawValue) AND id = \(id.rawValue)
                """, logger: logger).first.map { try Self.inboundMessage(from: $0) }
        }
    }

    /// Settles a message awaiting review; false when it was not pending.
    public func settleReview(_ id: MessageID, as decision: InboundMessage.Review, in organization: OrganizationID) async throws -> Bool {
        let logger = self.logger
        return try await transaction { connection in
            let settled = try await connection.rows("""
                UPDATE inbound_messages SET review = \(decision.rawValue)
                WHERE org_id = \(organization.rawValue) AND id = \(id.rawValue) AND review = 'pending'
                RETURNING id
                """, logger: logger)
            return settled.count == 1
        }
    }

    /// The columns `inboundMessage(from:)` reads, in its order.
    private static let inboundMessageColumns =
        "id, channel, sender, recipient, body, provider_message_id, received_at, result, keyword, replied_at, review"

    private static func inboundMessage(from row: PostgresRow) throws -> InboundMessage {
        let (id, channel, sender, recipient, body, providerMessageID, received, result, keyword, replied, review) =
            try row.decode((Int64, String, String, String, String, String?, Int64, String, String?, Int64?, String?).self)
        return InboundMessage(
            id: MessageID(id), channel: try Channel(parsing: channel), sender: sender, recipient: recipient,
            body: body, providerMessageID: providerMessageID, receivedAt: StoredCoding.date(received),
            result: KeywordResult.Kind(rawValue: result) ?? .none, keyword: keyword,
            repliedAt: replied.map(StoredCoding.date), review: review.flatMap(InboundMessage.Review.init(rawValue:)))
    }
}
