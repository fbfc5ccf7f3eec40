import Foundation
import HushCore
import ServiceLifecycle

// The seam between Hush's rules and its storage, split by concern. Routes, the CLI and the
// background services each depend on the slices they use; a backend implements every slice and
// decides nothing: the rules it follows are in HushCore (`ChangeRules`, `LedgerReplay`,
// `WebhookRouting`, `DirectoryRules`, `LiftAuthority`). See docs/architecture.md.
//
// Every write is committed before it returns, and every check that starts after a write returns
// sees it. Checks are answered from memory (`IndexedStore`) and never touch disk.

/// Organizations and their API keys.
public protocol AccessStore: Sendable {
    func createOrganization(named name: String, settings: OrganizationSettings) async throws -> Organization
    func organization(named name: String) async throws -> Organization?
    func organization(_ id: OrganizationID) async throws -> Organization?
    /// The organization as `organization(_:)` last read it, while that read is fresh enough to
    /// answer again; nil otherwise (then ask `organization(_:)`). Never reads the database.
    func cachedOrganization(_ id: OrganizationID) -> Organization?
    /// Changes the settings as stored when the write begins (never a node's cached copy, which
    /// may predate another node's change): `change` applies only what the caller gave.
    func updateSettings(
        of organization: OrganizationID, _ change: @Sendable (inout OrganizationSettings) throws -> Void
    ) async throws -> Organization

    /// Creates a key; its secret exists only in the value returned.
    func createKey(in organization: OrganizationID, role: Role) async throws -> (APIKey, APIKeyInfo)
    func keys(in organization: OrganizationID) async throws -> [APIKeyInfo]
    /// The organization and role of an unrevoked key, by the key's hash.
    func principal(forKeyHash hash: String) async throws -> Principal?
    /// Revokes a key of the organization; false when there is no such unrevoked key.
    func revokeKey(_ id: Int64, in organization: OrganizationID) async throws -> Bool
    /// Those of `ids` that are revoked now (or gone): what every server's key cache forgets.
    /// Asked by id, not by when they were revoked, so no clock decides what a cache sees.
    func revokedKeys(among ids: Set<Int64>) async throws -> Set<Int64>
    /// Notes that the keys were used at `date`.
    func noteKeysUsed(_ ids: Set<Int64>, at date: Date) async throws
}

/// Lists, contacts, and an organization's inbound settings.
public protocol Directory: Sendable {
    func createList(in organization: OrganizationID, _ definition: ListDefinition) async throws -> OptOutList
    func lists(in organization: OrganizationID) async throws -> [OptOutList]
    func list(_ id: ListID, in organization: OrganizationID) async throws -> OptOutList?
    func updateList(_ id: ListID, in organization: OrganizationID, _ definition: ListDefinition) async throws -> OptOutList
    func deleteList(_ id: ListID, in organization: OrganizationID) async throws

    /// Creates the contact if needed and links the addresses to it. Opt-outs recorded for the
    /// contact cover these addresses from now on.
    func link(_ addresses: [Address], to contact: ContactID, in organization: OrganizationID) async throws -> Contact
    func contact(_ id: ContactID, in organization: OrganizationID) async throws -> Contact?
    /// The hashed keys of the contact's erased addresses, with their kinds: checked under the
    /// hash, they still block (`Address(normalized:)` of the key), though no one can name them.
    func erasedKeys(of contact: ContactID, in organization: OrganizationID) async throws -> [(key: String, kind: Address.Kind)]
    /// When the address was linked to each contact it belongs to (unix milliseconds).
    func linkTimes(of address: Address, in organization: OrganizationID) async throws -> [ContactID: Int64]
    /// Links many contacts' addresses in one transaction (a page of CRM records).
    func link(_ links: [ContactLinks], in organization: OrganizationID) async throws

    func inboundSettings(of organization: OrganizationID) async throws -> InboundSettings
    /// Like `updateSettings`, for the keywords, help text and Twilio token; returns them.
    @discardableResult
    func updateInboundSettings(
        of organization: OrganizationID, _ change: @Sendable (inout InboundSettings) throws -> Void
    ) async throws -> InboundSettings
}

/// The append-only ledger, and the suppressions it projects.
public protocol Ledger: Sendable {
    /// Records opt-outs in one transaction: all of them or none.
    func record(_ optOuts: [OptOut], in organization: OrganizationID) async throws -> [OptOutOutcome]
    /// Lifts exactly the suppressions the opt-ins name, in one transaction: all of them or none.
    func record(_ optIns: [OptIn], in organization: OrganizationID) async throws -> [OptInOutcome]
    /// Removes an address's personal data, keeping a keyed hash so it stays suppressed.
    /// Returns whether there was anything to erase.
    func erase(_ address: Address, in organization: OrganizationID) async throws -> Bool
    /// Records every opt-out `next` yields, a chunk at a time, as one whole: an import that
    /// fails or is interrupted leaves none of its opt-outs (address rows it made may stay). The
    /// chunks are staged as `next` yields them, holding no lock, and written by one transaction
    /// at the end. An error names the item by its position in the whole import
    /// (`items[41999].channel`).
    func importOptOuts(in organization: OrganizationID, from next: @escaping @Sendable () throws -> [OptOut]?) async throws -> ImportSummary

    func suppressions(of address: Address, in organization: OrganizationID) async throws -> [Suppression]
    /// The suppressions of a list, oldest first, after the suppression made by event `after`.
    func entries(of list: ListID, in organization: OrganizationID, after sequence: Int64, limit: Int) async throws -> [Suppression]
    func events(in organization: OrganizationID, after sequence: Int64, limit: Int, address: Address?) async throws -> [LedgerEvent]
    /// Answers as of a past moment, from the ledger.
    func decision(for address: Address, in organization: OrganizationID, query: CheckQuery, asOf date: Date) async throws -> Decision
}

/// Checks answered from the in-memory index.
public protocol SuppressionChecks: Sendable {
    /// The check itself, from memory: what blocks a send to the address, none when it is allowed.
    /// `decision(for:in:query:)` is this with the question added to the answer.
    func blocks(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision.Blocks
    func decisions(for addresses: [Address], in organization: OrganizationID, query: CheckQuery) -> [Decision]
    /// Answers from memory for an address sent to as `contact`: the contact's own suppressions
    /// count even when the address was never linked to it.
    func decision(for address: Address, contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> Decision
    /// What blocks the contact itself on the query's channel, scope and lists: its own
    /// suppressions, from memory (a CRM push asks this of a record with no address of a kind).
    func blocks(ofContact contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> [Decision.Block]
    /// Suppressions the index holds.
    var indexedCount: Int { get }
    /// Applies every write other processes or nodes committed before this call, so the checks
    /// that follow see them. (Writes this process makes are seen as they return.)
    func catchUp() async throws
    /// The ledger position the index has applied: every event up to it is answered by checks.
    /// A write's answer carries it (`Hush-Sequence`) so a check on another node can ask for it.
    func appliedSequence() async -> Int64
    /// Waits until the index has applied ledger position `sequence` (reading the ledger at once
    /// rather than waiting for the next poll); false when it had not within `limit`, and at once
    /// when no write has reached that position.
    func waitUntilApplied(_ sequence: Int64, within limit: Duration) async throws -> Bool
}

extension SuppressionChecks {
    /// Answers from memory: the check, with the question it answers.
    public func decision(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision {
        Decision(address: address, answering: query, blockedBy: blocks(for: address, in: organization, query: query))
    }
}

/// Link signing keys and opt-in requests waiting for the person's confirmation.
public protocol LinkStore: Sendable {
    /// The link signing keys, newest first; one is created on first use.
    func linkKeys() async throws -> [LinkKey]
    func rotateLinkKey() async throws -> LinkKey
    /// Retires a link key; false when no such key is in use.
    func retireLinkKey(_ id: String) async throws -> Bool
    /// Stores a pending opt-in with the suppressions it may lift and announces it
    /// (`opt_in.requested`, carrying `confirmURL(stored)`), in one transaction. When one is
    /// already pending and unexpired for the same address, channel, scope and list, that one is
    /// returned and nothing is stored or announced.
    func createOptInRequest(
        _ request: OptInRequest, confirmURL: @Sendable (OptInRequest) throws -> String, in organization: OrganizationID
    ) async throws -> (request: OptInRequest, created: Bool)
    func optInRequest(_ id: Int64, in organization: OrganizationID) async throws -> OptInRequest?
    func optInRequests(in organization: OrganizationID, pendingOnly: Bool, after: Int64, limit: Int) async throws -> [OptInRequest]
    /// Records the opt-ins a person confirmed and marks the request confirmed, in one
    /// transaction; nil when it was confirmed before.
    func confirm(_ request: OptInRequest, as optIns: [OptIn], in organization: OrganizationID) async throws -> [OptInOutcome]?
}

/// Messages people send in (replies, keywords), their review, and provider message ids.
public protocol InboundStore: Sendable {
    func recordInbound(_ message: InboundMessage, in organization: OrganizationID) async throws -> InboundMessage
    func lastOptOutReply(to sender: String, in organization: OrganizationID) async throws -> Date?
    func inboundMessages(in organization: OrganizationID, pendingReviewOnly: Bool, after: MessageID, limit: Int) async throws -> [InboundMessage]
    func inboundMessage(_ id: MessageID, in organization: OrganizationID) async throws -> InboundMessage?
    /// Remembers a provider's message id (Twilio's `MessageSid`); false when it was seen before.
    func claimProviderMessage(_ id: String, in organization: OrganizationID) async throws -> Bool
    /// Forgets a claimed id whose message failed, so the provider's retry is handled.
    func releaseProviderMessage(_ id: String, in organization: OrganizationID) async throws
    /// Forgets ids remembered before `cutoff`; returns how many.
    func pruneProviderMessages(before cutoff: Date) async throws -> Int
    func settleReview(_ id: MessageID, as decision: InboundMessage.Review, in organization: OrganizationID) async throws -> Bool
}

/// Triggers an organization sets on activities, and the activities logged.
public protocol TriggerStore: Sendable {
    func createTrigger(_ trigger: Trigger, in organization: OrganizationID) async throws -> Trigger
    func triggers(in organization: OrganizationID) async throws -> [Trigger]
    /// Replaces the definition of trigger `trigger.id`; nil when there is no such trigger.
    func updateTrigger(_ trigger: Trigger, in organization: OrganizationID) async throws -> Trigger?
    func deleteTrigger(_ id: TriggerID, in organization: OrganizationID) async throws -> Bool
    func logActivity(_ activity: Activity, in organization: OrganizationID) async throws -> Activity
}

/// An organization's webhook endpoints and their deliveries.
public protocol WebhookStore: Sendable {
    func createWebhook(_ endpoint: WebhookEndpoint, in organization: OrganizationID) async throws -> WebhookEndpoint
    func webhooks(in organization: OrganizationID) async throws -> [WebhookEndpoint]
    func webhook(_ id: WebhookID, in organization: OrganizationID) async throws -> WebhookEndpoint?
    func updateWebhook(_ endpoint: WebhookEndpoint, in organization: OrganizationID) async throws -> WebhookEndpoint
    func deleteWebhook(_ id: WebhookID, in organization: OrganizationID) async throws -> Bool
    func rotateWebhookSecret(_ id: WebhookID, to secret: WebhookSecret, overlap: Duration, in organization: OrganizationID) async throws -> WebhookEndpoint
    func deliveries(of endpoint: WebhookID, in organization: OrganizationID, status: WebhookDelivery.Status?, after: DeliveryID, limit: Int) async throws -> [WebhookDelivery]
    func delivery(_ id: DeliveryID, in organization: OrganizationID) async throws -> WebhookDelivery?
    func retryDelivery(_ id: DeliveryID, in organization: OrganizationID) async throws -> WebhookDelivery?
    func replay(_ endpoint: WebhookID, from sequence: Int64, limit: Int, in organization: OrganizationID) async throws -> (queued: Int, next: Int64?)
}

/// The webhook outbox as the sender works it, across organizations.
public protocol WebhookQueue: Sendable {
    func claimDeliveries(endpoints: Int, perEndpoint: Int, excluding busy: Set<WebhookID>, leaseUntil: Date) async throws -> [[ClaimedDelivery]]
    func recordAttempts(_ attempts: [DeliveryAttempt]) async throws
    /// Extends the leases of claimed deliveries not yet recorded to `until`: a sender still
    /// working through a batch keeps it, while one that died loses it when the lease runs out.
    func renewDeliveryLeases(_ deliveries: [DeliveryID], until: Date) async throws
    /// Releases the leases this sender (this process; on PostgreSQL this node) held when it stopped.
    func releaseDeliveryLeases() async throws
    func pruneWebhooks(finishedBefore cutoff: Date) async throws -> (deliveries: Int, events: Int)
    func nextDeliveryDue(excluding busy: Set<WebhookID>) async throws -> Date?
}

/// Sends checked through the send gate and their reports.
public protocol SendReports: Sendable {
    func beginSend(_ send: Send, in organization: OrganizationID) async throws -> Send
    func appendReport(_ chunks: [SendReportChunk], to send: SendID) async throws
    func completeSend(_ send: Send, in organization: OrganizationID) async throws -> Send
    func discardSend(_ id: SendID) async throws
    func pruneSends(createdBefore cutoff: Date, incompleteBefore abandoned: Date) async throws -> Int
    func sends(in organization: OrganizationID, after id: SendID, limit: Int) async throws -> [Send]
    func send(_ id: SendID, in organization: OrganizationID) async throws -> Send?
    func reportChunks(of send: SendID, status: SendReportChunk.Status, after position: Int, limit: Int) async throws -> [SendReportChunk]
}

/// Named rule sets sends are checked with.
public protocol RulesetStore: Sendable {
    func createRuleset(_ ruleset: Ruleset, in organization: OrganizationID) async throws -> Ruleset
    func rulesets(in organization: OrganizationID) async throws -> [Ruleset]
    func ruleset(_ id: RulesetID, in organization: OrganizationID) async throws -> Ruleset?
    func updateRuleset(_ ruleset: Ruleset, in organization: OrganizationID) async throws -> Ruleset
    func deleteRuleset(_ id: RulesetID, in organization: OrganizationID) async throws -> Bool
}

/// Opening and closing a backend. `run()` (a ServiceLifecycle service) follows writes other
/// processes or nodes make and does the backend's background work until the service group
/// stops it; short-lived commands skip it. `close()` is called once, after `run()` returned
/// (or was never started), and releases the database.
public protocol StoreLifecycle: Service {
    func close() async throws
}

/// A contact and addresses to link to it.
public struct ContactLinks: Sendable {
    public var contact: ContactID
    public var addresses: [Address]

    public init(contact: ContactID, addresses: [Address]) {
        self.contact = contact
        self.addresses = addresses
    }
}

/// What an import wrote.
public struct ImportSummary: Hashable, Sendable {
    /// Opt-outs read.
    public var items = 0
    /// Ledger events written: opt-outs that were not in force yet.
    public var written = 0
    /// Opt-outs that were already in force and wrote nothing.
    public var alreadyInForce = 0
}

/// Everything Hush keeps, as one value: what a backend implements and what `hush` opens.
public typealias Store = AccessStore & Directory & Ledger & SuppressionChecks & LinkStore & InboundStore & TriggerStore
    & WebhookStore & WebhookQueue & SendReports & RulesetStore & ConnectorStore & ConnectorRecords & ConsoleStore & StoreLifecycle

extension Ledger {
    public func record(_ optOut: OptOut, in organization: OrganizationID) async throws -> OptOutOutcome {
        let outcomes = try await record([optOut], in: organization)
        return outcomes[0]
    }

    /// Lifts exactly the suppression the opt-in names.
    public func record(_ optIn: OptIn, in organization: OrganizationID) async throws -> OptInOutcome {
        try await record([optIn], in: organization)[0]
    }
}

extension AccessStore {
    public func createOrganization(named name: String) async throws -> Organization {
        try await createOrganization(named: name, settings: OrganizationSettings())
    }
}
