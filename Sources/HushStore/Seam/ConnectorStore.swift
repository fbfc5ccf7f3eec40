import Foundation
import HushCore

/// CRM connectors: their settings, leases and state. (`ConnectorRecords` holds what they last
/// knew of each CRM record, their review items and log.) Pushes
/// are due on records (`CRMRecord.pushDueAt`), marked in the transaction that moves the push
/// cursor over the ledger events that made them due: the ledger is the outbox, and a mark
/// outlives a restart or a kill -9 until the push succeeds.
public protocol ConnectorStore: Sendable {
    /// `secret` is the provider's client secret, sealed like every secret Hush keeps.
    func createConnector(_ connector: Connector, secret: String, in organization: OrganizationID) async throws -> Connector
    func connectors(in organization: OrganizationID) async throws -> [Connector]
    /// Every organization's connectors, for the service that runs them.
    func allConnectors() async throws -> [Connector]
    func connector(_ id: ConnectorID, in organization: OrganizationID) async throws -> Connector?
    /// A nil `secret` keeps the stored one. `resetting` (the connector now reads other CRM data)
    /// forgets its read positions and integration user in the same transaction, so its next run
    /// is a first sync.
    func updateConnector(_ connector: Connector, secret: String?, resetting: Bool, in organization: OrganizationID) async throws -> Connector
    func deleteConnector(_ id: ConnectorID, in organization: OrganizationID) async throws -> Bool
    func connectorSecret(_ id: ConnectorID) async throws -> String?

    /// Takes the connector for `owner` until `until` unless someone else holds it: one node
    /// runs a connector at a time, and a node that dies holds it no longer than its lease.
    func claimConnector(_ id: ConnectorID, owner: String, until: Date, now: Date) async throws -> Bool
    func releaseConnector(_ id: ConnectorID, owner: String) async throws
    /// The name a server leases connectors under, stable across its restarts (on PostgreSQL this
    /// node's name; on SQLite one server per file).
    var connectorLeaseOwner: String { get }
    /// Releases every lease `owner` holds: a restarted server takes back at once what it held
    /// when it stopped.
    func releaseConnectorLeases(owner: String) async throws
    func connectorState(_ id: ConnectorID) async throws -> ConnectorState
}

/// What connectors know of CRM records, with their due pushes, log and review items.
public protocol ConnectorRecords: Sendable {
    /// Saves what a sync step learned in one transaction: records (with their addresses and
    /// due pushes), the state, log lines (the log keeps the last `ConnectorLogEntry.kept`),
    /// review items, and webhook events (`connector.failed`). Returns the reviews as stored.
    /// Saves nothing and throws `conflict` unless `sync.leaseOwner` (when set) still holds the
    /// connector: a run that lost its lease never overwrites another's work.
    func saveSync(_ sync: ConnectorSync, of connector: Connector) async throws -> [CRMReview]

    func crmRecords(of connector: ConnectorID, keys: [CRMRecordKey]) async throws -> [CRMRecord]
    /// The live records that carry any of the normalized addresses.
    func crmRecords(of connector: ConnectorID, addresses: [String]) async throws -> [CRMRecord]
    /// Every record, in key order, after `after`.
    func crmRecords(of connector: ConnectorID, after: CRMRecordKey?, limit: Int) async throws -> [CRMRecord]
    /// Records whose push is due at `now`, earliest first.
    func duePushes(of connector: ConnectorID, at now: Date, limit: Int) async throws -> [CRMRecord]
    /// Records with a push due, now or later.
    func pendingPushes(of connector: ConnectorID) async throws -> Int
    /// The newest entries first.
    func connectorLog(of connector: ConnectorID, limit: Int) async throws -> [ConnectorLogEntry]

    func crmReviews(in organization: OrganizationID, pendingOnly: Bool, after: CRMReviewID, limit: Int) async throws -> [CRMReview]
    /// Marks a pending review dismissed; false when there is no such pending review.
    func dismissCRMReview(_ id: CRMReviewID, in organization: OrganizationID) async throws -> Bool
}

/// What one step of a connector's sync saves at once.
public struct ConnectorSync: Sendable {
    public var records: [CRMRecord] = []
    public var state: ConnectorState?
    public var log: [ConnectorLogEntry] = []
    public var reviews: [CRMReview] = []
    /// Webhook events to announce with it (`connector.failed`).
    public var announcements: [WebhookEvent] = []
    /// The lease this save needs to hold.
    public var leaseOwner: String?

    public init(
        records: [CRMRecord] = [], state: ConnectorState? = nil, log: [ConnectorLogEntry] = [], reviews: [CRMReview] = [], leaseOwner: String? = nil
    ) {
        self.leaseOwner = leaseOwner
        self.records = records
        self.state = state
        self.log = log
        self.reviews = reviews
    }
}

/// A connector's settings as stored (JSON in `connectors.definition`), the same on every backend.
struct StoredConnector: Codable {
    var name: String
    var provider: Connector.Provider
    var instanceURL: String
    var tokenURL: String?
    var mode: Connector.Mode
    var scope: String
    var list: Int64
    var entities: [String]
    var fields: [Connector.FieldMapping]
    var match: Connector.Match
    var pollSeconds: Int
    var onCRMUncheck: Connector.UncheckAction
    var pushOptIns: Bool
    var skipOptedOut: Bool
    var enabled: Bool
    var presets: [String]
    var tenant: String?
    var clientID: String
    var secretRevision: Int?

    init(_ connector: Connector) {
        name = connector.name
        provider = connector.provider
        instanceURL = connector.instanceURL
        tokenURL = connector.tokenURL
        mode = connector.mode
        scope = connector.scope.path
        list = connector.list.rawValue
        entities = connector.entities
        fields = connector.fields
        match = connector.match
        pollSeconds = connector.pollSeconds
        onCRMUncheck = connector.onCRMUncheck
        pushOptIns = connector.pushOptIns
        skipOptedOut = connector.skipOptedOut
        enabled = connector.enabled
        presets = connector.presets
        tenant = connector.tenant
        clientID = connector.clientID
        secretRevision = connector.secretRevision
    }

    func connector(id: Int64, organization: Int64, createdAt: Int64) throws -> Connector {
        Connector(
            id: ConnectorID(id), organization: OrganizationID(organization), name: name, provider: provider, instanceURL: instanceURL,
            tokenURL: tokenURL, mode: mode, scope: try StoredCoding.scope(scope), list: ListID(list), entities: entities, fields: fields,
            match: match, pollSeconds: pollSeconds, onCRMUncheck: onCRMUncheck, pushOptIns: pushOptIns, skipOptedOut: skipOptedOut,
            enabled: enabled, presets: presets, tenant: tenant, clientID: clientID, secretRevision: secretRevision ?? 0,
            createdAt: StoredCoding.date(createdAt))
    }

    static func encode(_ connector: Connector) throws -> String {
        String(decoding: try JSONEncoder().encode(StoredConnector(connector)), as: UTF8.self)
    }

    static func decode(_ text: String, id: Int64, organization: Int64, createdAt: Int64) throws -> Connector {
        try JSONDecoder().decode(StoredConnector.self, from: Data(text.utf8)).connector(id: id, organization: organization, createdAt: createdAt)
    }
}

/// A connector's state and a record's fields as stored (JSON text).
enum StoredCRM {
    static func state(_ text: String?) throws -> ConnectorState {
        guard let text, !text.isEmpty else { return ConnectorState() }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(ConnectorState.self, from: Data(text.utf8))
    }

    /// The state of a connector pointed at other CRM data: read everything again.
    static func reset(_ text: String?) throws -> String {
        var state = try Self.state(text)
        state.readPositions = [:]
        state.deletedSince = [:]
        state.integrationUser = nil
        state.firstSyncDone = false
        state.generation = (state.generation ?? 0) + 1
        return try encode(state)
    }

    /// Refuses a run's state saved over a reset made since the run read it: the run's read
    /// positions and first sync are of the data before, and saved they would undo the reset.
    static func requireNoResetSince(_ sync: ConnectorSync, stored: String?) throws {
        guard sync.leaseOwner != nil, let state = sync.state, try Self.state(stored).generation != state.generation else { return }
        throw HushError(.conflict, "the connector was changed during this run; its next run starts over")
    }

    static func encode(_ state: ConnectorState) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(state), as: UTF8.self)
    }

    static func fields(_ text: String) throws -> [String: Bool] {
        try JSONDecoder().decode([String: Bool].self, from: Data(text.utf8))
    }

    static func encode(_ fields: [String: Bool]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(fields), as: UTF8.self)
    }

    static func addresses(_ text: String) -> [String] {
        text.isEmpty ? [] : text.split(separator: "\n").map(String.init)
    }

    static func encode(_ addresses: [String]) -> String {
        addresses.joined(separator: "\n")
    }

    /// A record from the columns `entity, record_id, version, fields, addresses, deleted, linked,
    /// push_due_at, attempts, kept`.
    static func record(
        entity: String, id: String, version: String?, fields: String, addresses: String, deleted: Bool, linked: Bool,
        pushDueAt: Int64?, attempts: Int, kept: String
    ) throws -> CRMRecord {
        CRMRecord(
            key: CRMRecordKey(entity: entity, id: id), version: version, fields: try Self.fields(fields),
            addresses: Self.addresses(addresses), deleted: deleted, linked: linked, pushDueAt: pushDueAt.map(StoredCoding.date),
            attempts: attempts, kept: Set(Self.addresses(kept)))
    }

    /// Field names, one a line.
    static func encode(kept: Set<String>) -> String {
        kept.sorted().joined(separator: "\n")
    }

    static let recordColumns = "entity, record_id, version, fields, addresses, deleted, linked, push_due_at, attempts, kept"
}
