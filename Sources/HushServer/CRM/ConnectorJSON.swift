import Foundation
import HushCore

/// A connector as a caller sets it. Every field may be left out of a `PATCH`; `auth` is
/// write-only (the client secret is never answered).
struct ConnectorInput: APIInput {
    static let fields: Set<String> = [
        "name", "provider", "instance_url", "token_url", "auth", "mode", "scope", "list", "entities", "fields", "match", "poll_seconds",
        "on_crm_uncheck", "push_opt_ins", "skip_opted_out", "enabled", "sms_field", "sales_field",
    ]

    struct Auth: Decodable, Sendable, APIInput {
        static let fields: Set<String> = ["tenant", "client_id", "client_secret"]
        let tenant: String?
        let clientID: String?
        let clientSecret: String?

        init(from decoder: any Decoder) throws {
            try Self.rejectUnknownFields(in: decoder)
            let container = try decoder.container(keyedBy: AnyKey.self)
            tenant = try container.decodeIfPresent(String.self, forKey: AnyKey("tenant"))
            clientID = try container.decodeIfPresent(String.self, forKey: AnyKey("client_id"))
            clientSecret = try container.decodeIfPresent(String.self, forKey: AnyKey("client_secret"))
        }
    }

    let name: String?
    let provider: Connector.Provider?
    let instanceURL: String?
    let tokenURL: String?
    let auth: Auth?
    let mode: Connector.Mode?
    let scope: String?
    let list: ListReference?
    let entities: [String]?
    let fields: [Connector.FieldMapping]?
    let match: Connector.Match?
    let pollSeconds: Int?
    let onCRMUncheck: Connector.UncheckAction?
    let pushOptIns: Bool?
    let skipOptedOut: Bool?
    let enabled: Bool?
    /// The custom SMS field the `shared_field` and `hush_only` presets map.
    let smsField: String?
    /// The custom field the `sales_field` preset maps, instead of the default.
    let salesField: String?

    enum CodingKeys: String, CodingKey {
        case name, provider, auth, mode, scope, list, entities, fields, match, enabled
        case instanceURL = "instance_url"
        case tokenURL = "token_url"
        case pollSeconds = "poll_seconds"
        case onCRMUncheck = "on_crm_uncheck"
        case pushOptIns = "push_opt_ins"
        case skipOptedOut = "skip_opted_out"
        case smsField = "sms_field"
        case salesField = "sales_field"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        provider = try container.decodeIfPresent(Connector.Provider.self, forKey: .provider)
        instanceURL = try container.decodeIfPresent(String.self, forKey: .instanceURL).map(Self.trimmedURL)
        tokenURL = try container.decodeIfPresent(String.self, forKey: .tokenURL)
        auth = try container.decodeIfPresent(Auth.self, forKey: .auth)
        mode = try container.decodeIfPresent(Connector.Mode.self, forKey: .mode)
        scope = try container.decodeIfPresent(String.self, forKey: .scope)
        list = try container.decodeIfPresent(ListReference.self, forKey: .list)
        entities = try container.decodeIfPresent([String].self, forKey: .entities)
        fields = try container.decodeIfPresent([Connector.FieldMapping].self, forKey: .fields)
        match = try container.decodeIfPresent(Connector.Match.self, forKey: .match)
        pollSeconds = try container.decodeIfPresent(Int.self, forKey: .pollSeconds)
        onCRMUncheck = try container.decodeIfPresent(Connector.UncheckAction.self, forKey: .onCRMUncheck)
        pushOptIns = try container.decodeIfPresent(Bool.self, forKey: .pushOptIns)
        skipOptedOut = try container.decodeIfPresent(Bool.self, forKey: .skipOptedOut)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled)
        smsField = try container.decodeIfPresent(String.self, forKey: .smsField)
        salesField = try container.decodeIfPresent(String.self, forKey: .salesField)
    }

    static func trimmedURL(_ url: String) -> String {
        var url = url.trimmed
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}

struct ConnectorJSON: Encodable, Sendable {
    let connector: Connector

    init(_ connector: Connector) {
        self.connector = connector
    }

    struct AuthJSON: Encodable {
        let tenant: String?
        let clientID: String
        /// Always true: a secret is stored, and never shown.
        let clientSecretSet = true

        enum CodingKeys: String, CodingKey {
            case tenant
            case clientID = "client_id"
            case clientSecretSet = "client_secret_set"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, name, provider, auth, mode, scope, list, entities, fields, match, enabled, presets
        case instanceURL = "instance_url"
        case tokenURL = "token_url"
        case pollSeconds = "poll_seconds"
        case onCRMUncheck = "on_crm_uncheck"
        case pushOptIns = "push_opt_ins"
        case skipOptedOut = "skip_opted_out"
        case createdAt = "created_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(connector.id, forKey: .id)
        try container.encode(connector.name, forKey: .name)
        try container.encode(connector.provider, forKey: .provider)
        try container.encode(connector.instanceURL, forKey: .instanceURL)
        try container.encode(connector.tokenURL, forKey: .tokenURL)
        try container.encode(AuthJSON(tenant: connector.tenant, clientID: connector.clientID), forKey: .auth)
        try container.encode(connector.mode, forKey: .mode)
        try container.encode(connector.scope.path, forKey: .scope)
        try container.encode(connector.list, forKey: .list)
        try container.encode(connector.entities, forKey: .entities)
        try container.encode(connector.fields, forKey: .fields)
        try container.encode(connector.match, forKey: .match)
        try container.encode(connector.pollSeconds, forKey: .pollSeconds)
        try container.encode(connector.onCRMUncheck, forKey: .onCRMUncheck)
        try container.encode(connector.pushOptIns, forKey: .pushOptIns)
        try container.encode(connector.skipOptedOut, forKey: .skipOptedOut)
        try container.encode(connector.enabled, forKey: .enabled)
        try container.encode(connector.presets, forKey: .presets)
        try container.encode(connector.createdAt, forKey: .createdAt)
    }
}

struct ConnectorsJSON: Encodable, Sendable {
    let connectors: [ConnectorJSON]
}

struct RunJSON: Encodable, Sendable {
    let dryRun: Bool
    let report: ConnectorEngine.Report

    enum CodingKeys: String, CodingKey {
        case report
        case dryRun = "dry_run"
    }
}

struct StatusJSON: Encodable, Sendable {
    let state: String
    let lastRunAt: Date?
    let lastSuccessAt: Date?
    /// Seconds since the last successful read of the CRM.
    let lagSeconds: Double?
    /// Ledger events not yet looked at for pushes.
    let ledgerBehind: Int64
    /// Records with a push waiting.
    let outboxPending: Int
    let retryAt: Date?
    let firstSyncDone: Bool
    let lastError: ConnectorState.LastError?
    /// The CRM's count of API calls against its allowance (Salesforce's `Sforce-Limit-Info`).
    let apiUsage: String?

    enum CodingKeys: String, CodingKey {
        case state
        case lastRunAt = "last_run_at"
        case lastSuccessAt = "last_success_at"
        case lagSeconds = "lag_seconds"
        case ledgerBehind = "ledger_behind"
        case outboxPending = "outbox_pending"
        case retryAt = "retry_at"
        case firstSyncDone = "first_sync_done"
        case lastError = "last_error"
        case apiUsage = "api_usage"
    }

    init(connector: Connector, state: ConnectorState, pending: Int, behind: Int64, now: Date) {
        self.state = connector.enabled ? state.health.rawValue : ConnectorState.Health.disabled.rawValue
        lastRunAt = state.lastRunAt
        lastSuccessAt = state.lastSuccessAt
        lagSeconds = state.lastSuccessAt.map { max(0, now.timeIntervalSince($0)) }
        ledgerBehind = behind
        outboxPending = pending
        retryAt = state.retryAt
        firstSyncDone = state.firstSyncDone
        lastError = state.lastError
        apiUsage = state.apiUsage
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encode(lastRunAt, forKey: .lastRunAt)
        try container.encode(lastSuccessAt, forKey: .lastSuccessAt)
        try container.encode(lagSeconds, forKey: .lagSeconds)
        try container.encode(ledgerBehind, forKey: .ledgerBehind)
        try container.encode(outboxPending, forKey: .outboxPending)
        try container.encode(retryAt, forKey: .retryAt)
        try container.encode(firstSyncDone, forKey: .firstSyncDone)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(apiUsage, forKey: .apiUsage)
    }
}

struct LogJSON: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        let at: Date
        let kind: String
        let message: String

        init(_ entry: ConnectorLogEntry) {
            at = entry.at
            kind = entry.kind.rawValue
            message = entry.message
        }
    }

    let entries: [Entry]
}
