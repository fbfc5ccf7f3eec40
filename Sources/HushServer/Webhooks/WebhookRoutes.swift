import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/webhooks` and `/v1/deliveries`: where changes are announced, and how that went.
/// Changing an endpoint needs an admin key, because it decides where opt-outs are sent.
struct WebhookRoutes: Sendable {
    static let maximumReplay = 100_000
    static let defaultPageSize = 100
    static let maximumPageSize = 1_000
    static let maximumOverlap = 7 * 86_400

    let store: any AccessStore & Directory & WebhookStore
    let settings: WebhookSettings

    func register(on group: V1Group) {
        group.on(.post, "webhooks") { request, context in try await create(request, context) }
        group.on(.get, "webhooks") { _, context in try await all(context) }
        group.on(.get, "webhooks/:id") { _, context in JSONBody(WebhookJSON(try await endpoint(context))) }
        group.on(.patch, "webhooks/:id") { request, context in try await update(request, context) }
        group.on(.delete, "webhooks/:id") { _, context in try await delete(context) }
        group.on(.post, "webhooks/:id/rotate-secret") { request, context in try await rotate(request, context) }
        group.on(.get, "webhooks/:id/deliveries") { request, context in try await deliveries(request, context) }
        group.on(.post, "webhooks/:id/replay") { request, context in try await replay(request, context) }
        group.on(.post, "deliveries/:id/retry") { _, context in try await retry(context) }
    }

    // MARK: Endpoints

    struct WebhookInput: APIInput {
        static let fields: Set<String> = ["url", "events", "lists", "enabled"]
        let url: String?
        let events: [String]?
        let lists: [ListReference]??
        let enabled: Bool?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            url = try container.decodeIfPresent(String.self, forKey: AnyKey("url"))
            events = try container.decodeIfPresent([String].self, forKey: AnyKey("events"))
            lists = try container.decodeClearable([ListReference].self, forKey: AnyKey("lists"))
            enabled = try container.decodeIfPresent(Bool.self, forKey: AnyKey("enabled"))
        }
    }

    struct WebhookJSON: Encodable, Sendable {
        let id: WebhookID
        let url: String
        let events: [String]
        @NullEncoded var lists: [Int64]?
        let enabled: Bool
        @NullEncoded var disabledReason: String?
        /// The list whose `webhook_url` this is.
        @NullEncoded var list: Int64?
        /// True while a rotated-out secret still signs beside the new one.
        let rotating: Bool
        /// Only in the answer that created the secret.
        let secret: String?

        enum CodingKeys: String, CodingKey {
            case id, url, events, lists, enabled, list, rotating, secret
            case disabledReason = "disabled_reason"
        }

        init(_ endpoint: WebhookEndpoint, secret: WebhookSecret? = nil) {
            id = endpoint.id
            url = endpoint.url
            events = endpoint.events
            lists = endpoint.lists?.map(\.rawValue)
            enabled = endpoint.enabled
            disabledReason = endpoint.disabledReason
            list = endpoint.ownerList?.rawValue
            rotating = endpoint.secrets.count > 1
            self.secret = secret?.description
        }
    }

    struct WebhooksJSON: Encodable, Sendable {
        let webhooks: [WebhookJSON]
    }

    private func create(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("creating a webhook")
        let input = try await request.input(WebhookInput.self, context: context)
        guard let url = input.url else { throw Problem.invalid("url", "a webhook needs a url") }
        guard let events = input.events else { throw Problem.invalid("events", "a webhook needs the events it receives") }
        let secret = WebhookSecret.generate()
        let validEvents = try WebhookEndpoint.validateEvents(events)
        let lists = try await resolve(input.lists ?? nil, caller)
        let endpoint = WebhookEndpoint(
            url: try await validTarget(url), events: validEvents, lists: lists, enabled: input.enabled ?? true, secrets: [secret])
        let stored = try await store.createWebhook(endpoint, in: caller.organization)
        return try JSONBody(WebhookJSON(stored, secret: secret), status: .created).response(from: request, context: context)
    }

    private func all(_ context: HushRequestContext) async throws -> JSONBody<WebhooksJSON> {
        let caller = try context.caller()
        return JSONBody(WebhooksJSON(webhooks: try await store.webhooks(in: caller.organization).map { WebhookJSON($0) }))
    }

    private func update(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<WebhookJSON> {
        let caller = try context.caller()
        try caller.requireAdmin("changing a webhook")
        var endpoint = try await endpoint(context)
        let input = try await request.input(WebhookInput.self, context: context)
        if let events = input.events { endpoint.events = try WebhookEndpoint.validateEvents(events) }
        if let lists = input.lists { endpoint.lists = try await resolve(lists, caller) }
        if let url = input.url { endpoint.url = try await validTarget(url) }
        if let enabled = input.enabled { endpoint.enabled = enabled }
        return JSONBody(WebhookJSON(try await store.updateWebhook(endpoint, in: caller.organization)))
    }

    private func delete(_ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("deleting a webhook")
        let endpoint = try await endpoint(context)
        _ = try await store.deleteWebhook(endpoint.id, in: caller.organization)
        return Response(status: .noContent)
    }

    struct RotateInput: APIInput {
        static let fields: Set<String> = ["overlap_seconds"]
        let overlapSeconds: Int?

        enum CodingKeys: String, CodingKey {
            case overlapSeconds = "overlap_seconds"
        }
    }

    /// A new secret, shown once. The old one keeps signing beside it for `overlap_seconds`
    /// (default a day), so receivers can move over without missing a delivery.
    private func rotate(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("rotating a webhook secret")
        let endpoint = try await endpoint(context)
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let input = body.readableBytes == 0 ? RotateInput(overlapSeconds: nil)
            : try JSONCoding.decoder.decode(Strict<RotateInput>.self, from: body).value
        let overlap = input.overlapSeconds ?? 86_400
        guard (0...Self.maximumOverlap).contains(overlap) else {
            throw Problem.invalid("overlap_seconds", "overlap_seconds is 0 to \(Self.maximumOverlap)")
        }
        let secret = WebhookSecret.generate()
        let rotated = try await store.rotateWebhookSecret(endpoint.id, to: secret, overlap: .seconds(overlap), in: caller.organization)
        return try JSONBody(WebhookJSON(rotated, secret: secret)).response(from: request, context: context)
    }

    // MARK: Deliveries

    struct DeliveryJSON: Encodable, Sendable {
        let id: DeliveryID
        let webhook: WebhookID
        let webhookID: String
        let event: Int64
        let type: String
        @NullEncoded var sequence: Int64?
        let status: String
        let attempts: Int
        @NullEncoded var nextAttemptAt: Date?
        @NullEncoded var lastAttemptAt: Date?
        @NullEncoded var responseStatus: Int?
        @NullEncoded var responseBody: String?
        @NullEncoded var error: String?
        let createdAt: Date
        @NullEncoded var finishedAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, webhook, event, type, sequence, status, attempts, error
            case webhookID = "webhook_id"
            case nextAttemptAt = "next_attempt_at"
            case lastAttemptAt = "last_attempt_at"
            case responseStatus = "response_status"
            case responseBody = "response_body"
            case createdAt = "created_at"
            case finishedAt = "finished_at"
        }

        init(_ delivery: WebhookDelivery) {
            id = delivery.id
            webhook = delivery.endpoint
            webhookID = delivery.event.webhookID(endpoint: delivery.endpoint)
            event = delivery.event.id
            type = delivery.event.kind.rawValue
            sequence = delivery.event.sequence
            status = delivery.status.rawValue
            attempts = delivery.attempts
            nextAttemptAt = delivery.nextAttemptAt
            lastAttemptAt = delivery.lastAttemptAt
            responseStatus = delivery.responseStatus
            responseBody = delivery.responseBody
            error = delivery.error
            createdAt = delivery.createdAt
            finishedAt = delivery.finishedAt
        }
    }

    struct DeliveriesJSON: Encodable, Sendable {
        let deliveries: [DeliveryJSON]
        @NullEncoded var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case deliveries
            case nextCursor = "next_cursor"
        }
    }

    /// Oldest first; `status` filters, `after` is the previous page's `next_cursor`.
    private func deliveries(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<DeliveriesJSON> {
        let caller = try context.caller()
        let endpoint = try await endpoint(context)
        let query = try Query(request, accepting: ["limit", "after", "status"])
        let limit = try query.integer("limit", default: Self.defaultPageSize, range: 1...Self.maximumPageSize)
        let after: DeliveryID = try query.cursor("after")
        let status = try query.optional("status").map { text in
            guard let status = WebhookDelivery.Status(rawValue: text) else {
                throw Problem.invalid("status", "status is one of \(WebhookDelivery.Status.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return status
        }
        let page = try await store.deliveries(of: endpoint.id, in: caller.organization, status: status, after: after, limit: limit)
        return JSONBody(DeliveriesJSON(deliveries: page.map(DeliveryJSON.init), nextCursor: page.count == limit ? page.last.map { String($0.id.rawValue) } : nil))
    }

    private func retry(_ context: HushRequestContext) async throws -> JSONBody<DeliveryJSON> {
        let caller = try context.caller()
        try caller.requireAdmin("retrying a delivery")
        let text = context.parameters.get("id") ?? ""
        guard let id = DeliveryID(text), let delivery = try await store.retryDelivery(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no delivery \"\(text)\" in this organization")
        }
        return JSONBody(DeliveryJSON(delivery))
    }

    struct ReplayInput: APIInput {
        static let fields: Set<String> = ["from_sequence"]
        let fromSequence: Int64

        enum CodingKeys: String, CodingKey {
            case fromSequence = "from_sequence"
        }
    }

    struct ReplayJSON: Encodable, Sendable {
        let queued: Int
        /// Where to continue when more than one call's worth was left.
        @NullEncoded var nextSequence: Int64?

        enum CodingKeys: String, CodingKey {
            case queued
            case nextSequence = "next_sequence"
        }
    }

    /// Sends the ledger's events from `from_sequence` on again, each under its original
    /// `webhook-id`; up to 100 000 per call.
    private func replay(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("replaying webhooks")
        let endpoint = try await endpoint(context)
        let input = try await request.input(ReplayInput.self, context: context)
        guard input.fromSequence >= 1 else { throw Problem.invalid("from_sequence", "from_sequence is a ledger sequence, 1 or more") }
        let (queued, next) = try await store.replay(endpoint.id, from: input.fromSequence, limit: Self.maximumReplay, in: caller.organization)
        return try JSONBody(ReplayJSON(queued: queued, nextSequence: next), status: .accepted).response(from: request, context: context)
    }

    // MARK: Helpers

    /// The endpoint named by the path, if it belongs to the caller's organization.
    private func endpoint(_ context: HushRequestContext) async throws -> WebhookEndpoint {
        let caller = try context.caller()
        let text = context.parameters.get("id") ?? ""
        guard let id = WebhookID(text), let endpoint = try await store.webhook(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no webhook \"\(text)\" in this organization")
        }
        return endpoint
    }

    private func resolve(_ lists: [ListReference]?, _ caller: Principal) async throws -> [ListID]? {
        guard let lists else { return nil }
        guard !lists.isEmpty else { throw Problem.invalid("lists", "give at least one list, or null for every list") }
        return try await lists.resolve(in: caller.organization, store: store).sorted { $0.rawValue < $1.rawValue }
    }

    private func validTarget(_ url: String) async throws -> String {
        try await WebhookTarget.check(url, allowPrivate: settings.allowPrivateTargets)
        return url
    }
}
