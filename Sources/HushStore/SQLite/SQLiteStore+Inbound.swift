import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func inboundSettings(of organization: OrganizationID) async throws -> InboundSettings {
        try await read { db in try Self.inboundSettings(db, organization) }
    }

    static func inboundSettings(_ db: Database, _ organization: OrganizationID) throws -> InboundSettings {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT opt_out_keywords, opt_in_keywords, help_keywords, help_text, hush_open(twilio_auth_token) AS twilio_auth_token
            FROM inbound_settings WHERE org_id = ?
            """, arguments: [organization.rawValue]) else {
            return InboundSettings()
        }
        func words(_ column: String, _ fallback: [String]) throws -> [String] {
            guard let json: String = row[column] else { return fallback }
            return try JSONDecoder().decode([String].self, from: Data(json.utf8))
        }
        return InboundSettings(
            keywords: KeywordSet(
                optOut: try words("opt_out_keywords", KeywordSet.defaultOptOut), optIn: try words("opt_in_keywords", KeywordSet.defaultOptIn),
                help: try words("help_keywords", KeywordSet.defaultHelp)),
            helpText: row["help_text"] ?? InboundSettings.defaultHelpText, twilioAuthToken: row["twilio_auth_token"])
    }

    @discardableResult
    public func updateInboundSettings(
        of organization: OrganizationID, _ change: @Sendable (inout InboundSettings) throws -> Void
    ) async throws -> InboundSettings {
        let encode = { @Sendable (words: [String]) in String(decoding: try JSONEncoder().encode(words), as: UTF8.self) }
        return try await storageErrors {
            try await pool.write { db in
                var settings = try Self.inboundSettings(db, organization)
                try change(&settings)
                let arguments: StatementArguments = [
                    organization.rawValue, try encode(settings.keywords.optOut), try encode(settings.keywords.optIn),
                    try encode(settings.keywords.help), settings.helpText, settings.twilioAuthToken,
                ]
                try db.execute(sql: """
                    INSERT INTO inbound_settings (org_id, opt_out_keywords, opt_in_keywords, help_keywords, help_text, twilio_auth_token)
                    VALUES (?, ?, ?, ?, ?, hush_seal(?))
                    ON CONFLICT (org_id) DO UPDATE SET opt_out_keywords = excluded.opt_out_keywords,
                        opt_in_keywords = excluded.opt_in_keywords, help_keywords = excluded.help_keywords,
                        help_text = excluded.help_text, twilio_auth_token = excluded.twilio_auth_token
                    """, arguments: arguments)
                return settings
            }
        }
    }

    public func recordInbound(_ message: InboundMessage, in organization: OrganizationID) async throws -> InboundMessage {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO inbound_messages (org_id, channel, sender, recipient, body, provider_message_id, received_at, result, keyword,
                                                  replied_at, review)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [
                        organization.rawValue, message.channel.rawValue, message.sender, message.recipient, message.body,
                        message.providerMessageID, StoredCoding.milliseconds(message.receivedAt), message.result.rawValue, message.keyword,
                        message.repliedAt.map(StoredCoding.milliseconds), message.review?.rawValue,
                    ])
                var stored = message
                stored.id = MessageID(db.lastInsertedRowID)
                if let announced = WebhookRouting.announcement(of: stored) {
                    var outbox = Outbox(db, organization: organization, now: configuration.now())
                    try outbox.enqueue([announced], addressIDs: [nil], now: StoredCoding.milliseconds(configuration.now()))
                }
                return stored
            }
        }
    }

    /// Remembers a provider's message id; false when it was remembered before (a replay), or a
    /// message with it was recorded: those are kept after the pruner forgets the ids, so an old
    /// signed START replayed then lifts nothing either.
    public func claimProviderMessage(_ id: String, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO provider_messages (org_id, provider_message_id, received_at) SELECT ?1, ?2, ?3
                    WHERE NOT EXISTS (SELECT 1 FROM inbound_messages WHERE org_id = ?1 AND provider_message_id = ?2)
                    ON CONFLICT DO NOTHING
                    """, arguments: [organization.rawValue, id, now])
                return db.changesCount == 1
            }
        }
    }

    /// Forgets a claimed id whose message could not be handled, so the provider's retry is.
    public func releaseProviderMessage(_ id: String, in organization: OrganizationID) async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM provider_messages WHERE org_id = ? AND provider_message_id = ?",
                               arguments: [organization.rawValue, id])
            }
        }
    }

    public func pruneProviderMessages(before cutoff: Date) async throws -> Int {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM provider_messages WHERE received_at < ?", arguments: [StoredCoding.milliseconds(cutoff)])
                return db.changesCount
            }
        }
    }

    /// When this sender was last answered for an opt-out, if at all.
    public func lastOptOutReply(to sender: String, in organization: OrganizationID) async throws -> Date? {
        try await read { db in
            try Int64.fetchOne(db, sql: """
                SELECT MAX(replied_at) FROM inbound_messages WHERE org_id = ? AND sender = ? AND result = 'opt_out'
                """, arguments: [organization.rawValue, sender]).map(StoredCoding.date)
        }
    }

    public func inboundMessages(in organization: OrganizationID, pendingReviewOnly: Bool, after: MessageID, limit: Int) async throws -> [InboundMessage] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM inbound_messages WHERE org_id = ? AND id > ? \(pendingReviewOnly ? "AND review = 'pending'" : "")
                ORDER BY id LIMIT ?
                """, arguments: [organization.rawValue, after, limit]).map(Self.inboundMessage)
        }
    }

    public func inboundMessage(_ id: MessageID, in organization: OrganizationID) async throws -> InboundMessage? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM inbound_messages WHERE org_id = ? AND id = ?", arguments: [organization.rawValue, id])
                .map(Self.inboundMessage)
        }
    }

    /// Settles a message awaiting review; false when it was not pending.
    public func settleReview(_ id: MessageID, as decision: InboundMessage.Review, in organization: OrganizationID) async throws -> Bool {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE inbound_messages SET review = ? WHERE org_id = ? AND id = ? AND review = 'pending'",
                               arguments: [decision.rawValue, organization.rawValue, id])
                return db.changesCount == 1
            }
        }
    }

    private static func inboundMessage(_ row: Row) throws -> InboundMessage {
        let replied: Int64? = row["replied_at"]
        let review: String? = row["review"]
        return InboundMessage(
            id: row["id"], channel: try Channel(parsing: row["channel"]), sender: row["sender"], recipient: row["recipient"],
            body: row["body"], providerMessageID: row["provider_message_id"], receivedAt: StoredCoding.date(row["received_at"]),
            result: KeywordResult.Kind(rawValue: row["result"]) ?? .none, keyword: row["keyword"],
            repliedAt: replied.map(StoredCoding.date), review: review.flatMap(InboundMessage.Review.init(rawValue:)))
    }
}
