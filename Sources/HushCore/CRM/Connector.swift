import Foundation

public typealias ConnectorID = Identifier<Connector>
public typealias CRMReviewID = Identifier<CRMReview>

/// A two-way sync of opt-out fields with one CRM instance, for one organization (docs/crm.md).
/// What it reads in lands at `scope` on `list`; what it pushes out is what a check at `scope`
/// honouring `list` would block.
public struct Connector: Hashable, Sendable {
    public enum Provider: String, Hashable, Sendable, Codable, CaseIterable {
        case dynamics, salesforce
    }

    /// The three configurations.
    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable {
        /// Both systems read and write the CRM's standard Do-Not fields.
        case sharedField = "shared_field"
        /// A custom CRM field only Hush reads and writes; the marketing fields are left alone.
        case salesField = "sales_field"
        /// Nothing is written to the CRM; fields may still be read in.
        case hushOnly = "hush_only"
    }

    /// What a CRM field unticked (true → false) does besides becoming a review item.
    public enum UncheckAction: String, Hashable, Sendable, Codable, CaseIterable {
        /// Leave the field as the CRM has it.
        case review
        /// Write `true` back while Hush's suppression is in force.
        case reassert
    }

    public enum Direction: String, Hashable, Sendable, Codable, CaseIterable {
        case both, `in`, out

        public var reads: Bool { self != .out }
        public var writes: Bool { self != .in }
    }

    /// One CRM Boolean field and the channels it stands for.
    public struct FieldMapping: Hashable, Sendable, Codable {
        public var channel: ChannelSelection
        public var field: String
        public var direction: Direction

        public init(channel: ChannelSelection, field: String, direction: Direction = .both) {
            self.channel = channel
            self.field = field
            self.direction = direction
        }

        enum CodingKeys: String, CodingKey { case channel, field, direction }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let channel = try container.decode(String.self, forKey: .channel)
            guard let selection = ChannelSelection(rawValue: channel) else {
                throw DecodingError.dataCorruptedError(forKey: .channel, in: container, debugDescription: "not a channel")
            }
            self.channel = selection
            field = try container.decode(String.self, forKey: .field)
            direction = try container.decode(Direction.self, forKey: .direction)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(channel.rawValue, forKey: .channel)
            try container.encode(field, forKey: .field)
            try container.encode(direction, forKey: .direction)
        }
    }

    /// The CRM fields that carry a record's addresses.
    public struct Match: Hashable, Sendable, Codable {
        public var email: [String]
        public var phone: [String]

        public init(email: [String], phone: [String]) {
            self.email = email
            self.phone = phone
        }

        public var fields: [String] { email + phone }
    }

    public var id: ConnectorID
    public var organization: OrganizationID
    public var name: String
    public var provider: Provider
    /// `https://org.crm.dynamics.com` or `https://acme.my.salesforce.com`, without a trailing slash.
    public var instanceURL: String
    /// Where tokens come from; nil for the provider's default.
    public var tokenURL: String?
    public var mode: Mode
    public var scope: Scope
    /// The list CRM opt-outs land on, and which pushes honour besides `default`.
    public var list: ListID
    /// `contact`, `lead`.
    public var entities: [String]
    public var fields: [FieldMapping]
    public var match: Match
    public var pollSeconds: Int
    public var onCRMUncheck: UncheckAction
    public var pushOptIns: Bool
    /// When linking a CRM record whose addresses are all opted out already, leave it unlinked.
    public var skipOptedOut: Bool
    public var enabled: Bool
    /// What the presets filled in: `fields`, `match`.
    public var presets: [String]
    /// The tenant (Dynamics) and client id: shown; the client secret never is.
    public var tenant: String?
    public var clientID: String
    /// Moves on each new client secret, so every node's kept client signs in again.
    public var secretRevision: Int
    public var createdAt: Date

    public init(
        id: ConnectorID = ConnectorID(0), organization: OrganizationID, name: String, provider: Provider, instanceURL: String,
        tokenURL: String? = nil, mode: Mode, scope: Scope = .organization, list: ListID, entities: [String] = ["contact", "lead"],
        fields: [FieldMapping], match: Match, pollSeconds: Int = 60, onCRMUncheck: UncheckAction? = nil, pushOptIns: Bool = false,
        skipOptedOut: Bool = false, enabled: Bool = true, presets: [String] = [], tenant: String? = nil, clientID: String,
        secretRevision: Int = 0, createdAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.secretRevision = secretRevision
        self.id = id
        self.organization = organization
        self.name = name
        self.provider = provider
        self.instanceURL = instanceURL
        self.tokenURL = tokenURL
        self.mode = mode
        self.scope = scope
        self.list = list
        self.entities = entities
        self.fields = fields
        self.match = match
        self.pollSeconds = pollSeconds
        self.onCRMUncheck = onCRMUncheck ?? (mode == .salesField ? .reassert : .review)
        self.pushOptIns = pushOptIns
        self.skipOptedOut = skipOptedOut
        self.enabled = enabled
        self.presets = presets
        self.tenant = tenant
        self.clientID = clientID
        self.createdAt = createdAt
    }

    /// The Hush contact a CRM record is: `crm:<connector id>:<entity>:<record id>`.
    public func contact(for record: CRMRecordKey) -> ContactID {
        // Record ids are GUIDs (Dynamics) or 18-character ids (Salesforce): always short enough.
        try! ContactID(parsing: "crm:\(id.rawValue):\(record.entity):\(record.id)")
    }

    /// The actor CRM changes are recorded as: `crm:<connector id>:<CRM user id>`.
    public func actor(user: String?) -> String {
        "crm:\(id.rawValue):\(user ?? "unknown")"
    }

    /// Whether Hush writes to the CRM at all.
    public var writes: Bool { mode != .hushOnly }

    /// The fields Hush reads in and those it writes out.
    public var readFields: [FieldMapping] { fields.filter(\.direction.reads) }
    public var writtenFields: [FieldMapping] { writes ? fields.filter(\.direction.writes) : [] }

    /// Whether a change from `self` to `changed` points the connector at other CRM data, so what
    /// it knew (read positions, the integration user) no longer holds, or changes what it writes
    /// (mode, scope, list: suppressions it left out may now apply): a full sync follows, which
    /// decides every record again.
    public func readsOtherData(than changed: Connector) -> Bool {
        provider != changed.provider || instanceURL != changed.instanceURL || tokenURL != changed.tokenURL || tenant != changed.tenant
            || clientID != changed.clientID || entities != changed.entities || fields != changed.fields || match != changed.match
            || mode != changed.mode || scope != changed.scope || list != changed.list
    }

    /// Every CRM field a read selects: the mapped Booleans and the address fields.
    public var selectedFields: [String] {
        var seen = Set<String>()
        return (fields.map(\.field) + match.fields).filter { seen.insert($0).inserted }
    }
}

/// A CRM record named by its entity (`contact`, `lead`) and its id in the CRM.
public struct CRMRecordKey: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var entity: String
    public var id: String

    public init(entity: String, id: String) {
        self.entity = entity
        self.id = id
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.entity, lhs.id) < (rhs.entity, rhs.id) }
    public var description: String { "\(entity)/\(id)" }
}

/// What Hush last knew of a CRM record: its version, the mapped fields' values, the addresses
/// linked from it, and whether a push to it is due.
public struct CRMRecord: Hashable, Sendable {
    public var key: CRMRecordKey
    /// The ETag (Dynamics `@odata.etag`) or `SystemModstamp` (Salesforce) last read or written.
    public var version: String?
    /// The mapped Boolean fields as last read, or as Hush last wrote them.
    public var fields: [String: Bool]
    /// The normalized addresses the record's match fields gave.
    public var addresses: [String]
    public var deleted: Bool
    /// Whether the record was linked to its Hush contact (`skip_opted_out` can leave it unlinked).
    public var linked: Bool
    /// When a push is due: Hush's suppressions are compared with `fields` and what differs is written.
    public var pushDueAt: Date?
    /// Failed pushes since the last success.
    public var attempts: Int
    /// Fields the CRM unticked under `on_crm_uncheck: review`: left as the CRM has them until the
    /// CRM ticks them again or a new opt-out of the person comes.
    public var kept: Set<String>

    public init(
        key: CRMRecordKey, version: String?, fields: [String: Bool], addresses: [String], deleted: Bool = false, linked: Bool = true,
        pushDueAt: Date? = nil, attempts: Int = 0, kept: Set<String> = []
    ) {
        self.kept = kept
        self.key = key
        self.version = version
        self.fields = fields
        self.addresses = addresses
        self.deleted = deleted
        self.linked = linked
        self.pushDueAt = pushDueAt
        self.attempts = attempts
    }
}

/// A CRM field unticked (true → false): not consent, so a person decides (`GET /v1/review`).
public struct CRMReview: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable, Codable {
        case pending, dismissed
    }

    public var id: CRMReviewID
    public var connector: ConnectorID
    public var record: CRMRecordKey
    public var field: String
    /// The CRM user who unticked it, as the CRM names them.
    public var crmUser: String?
    public var changedAt: Date?
    public var contact: ContactID
    public var status: Status
    public var createdAt: Date
    /// Whether Hush wrote `true` back (`on_crm_uncheck: reassert`).
    public var reasserted: Bool

    public init(
        id: CRMReviewID = CRMReviewID(0), connector: ConnectorID, record: CRMRecordKey, field: String, crmUser: String?, changedAt: Date?,
        contact: ContactID, status: Status = .pending, createdAt: Date, reasserted: Bool
    ) {
        self.id = id
        self.connector = connector
        self.record = record
        self.field = field
        self.crmUser = crmUser
        self.changedAt = changedAt
        self.contact = contact
        self.status = status
        self.createdAt = createdAt
        self.reasserted = reasserted
    }
}
