import Foundation

/// Where a connector's sync stands, kept with it: read positions, the push cursor, health.
public struct ConnectorState: Hashable, Sendable, Codable {
    public enum Health: String, Hashable, Sendable, Codable, CaseIterable {
        case ok, throttled
        case authFailed = "auth_failed"
        case error, disabled
    }

    /// Per entity: Dynamics' `@odata.deltaLink`, or Salesforce's last `SystemModstamp` read.
    public var readPositions: [String: String] = [:]
    /// Per entity (Salesforce): the start of the next `deleted` window.
    public var deletedSince: [String: Date] = [:]
    /// The ledger position pushes have been worked out to.
    public var pushCursor: Int64 = 0
    /// Whether the first sync (every record read, every record reconciled) has completed.
    public var firstSyncDone = false
    public var health: Health = .ok
    public var lastRunAt: Date?
    public var lastSuccessAt: Date?
    public var lastError: LastError?
    /// The CRM user Hush writes as: its changes are Hush's own coming back.
    public var integrationUser: String?
    /// When a throttled connector may call the CRM again.
    public var retryAt: Date?
    /// How many times the connector was pointed at other data and reset (nil for none): a run
    /// that began before a reset saves no state over it.
    public var generation: Int?
    /// The CRM's own count of API calls against the day's allowance, as its last answer gave it
    /// (Salesforce's `Sforce-Limit-Info`, `api-usage=25/15000`); nil when the CRM gives none.
    public var apiUsage: String?

    public struct LastError: Hashable, Sendable, Codable {
        /// The vendor's code verbatim (`0x80072322`, `REQUEST_LIMIT_EXCEEDED`), or Hush's own.
        public var code: String
        public var message: String
        public var at: Date

        public init(code: String, message: String, at: Date) {
            self.code = code
            self.message = message
            self.at = at
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case readPositions = "read_positions"
        case deletedSince = "deleted_since"
        case pushCursor = "push_cursor"
        case firstSyncDone = "first_sync_done"
        case health
        case lastRunAt = "last_run_at"
        case lastSuccessAt = "last_success_at"
        case lastError = "last_error"
        case integrationUser = "integration_user"
        case retryAt = "retry_at"
        case generation
        case apiUsage = "api_usage"
    }
}

/// One line of a connector's log (`GET /v1/connectors/{id}/log`): reads, writes, echoes,
/// unchecks, errors. Never an address or a secret: records are named by entity and id.
public struct ConnectorLogEntry: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case read, optOut = "opt_out", write, echo, uncheck, skip, error, throttle, resync
    }

    public var at: Date
    public var kind: Kind
    public var message: String

    public init(at: Date, kind: Kind, message: String) {
        self.at = at
        self.kind = kind
        self.message = message
    }

    /// Entries kept per connector; older ones are dropped as new ones come.
    public static let kept = 1_000
}
