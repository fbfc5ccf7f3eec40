/// The rules for changing lists, webhook endpoints and deliveries, whichever backend keeps them.
public enum DirectoryRules {
    /// Whether a list may be made with `definition` (`newName`).
    public static func create(_ definition: ListDefinition) throws(HushError) {
        try newName(definition.name)
    }

    /// Whether a list may take `definition`: a new name follows `newName`, and the default list
    /// keeps its name and every channel.
    public static func update(_ list: OptOutList, to definition: ListDefinition) throws(HushError) {
        if definition.name != list.definition.name { try newName(definition.name) }
        guard list.isDefault else { return }
        if definition.name != ListDefinition.defaultName {
            throw HushError(.conflict, field: "name", "the default list cannot be renamed")
        }
        if definition.channels != Set(Channel.allCases) {
            throw HushError(.conflict, field: "channels", "the default list covers every channel, always")
        }
    }

    /// Whether a list may be given `name`, made or renamed. Checks name lists by id or name,
    /// several at once (`lists=vip,12`), so a name holds no comma and is not all digits: either
    /// would name other lists than the one meant. Lists named so before keep their names.
    public static func newName(_ name: String) throws(HushError) {
        if name.contains(",") {
            throw .invalid("name", "a list name holds no comma: checks name several lists as lists=a,b")
        }
        if name.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            throw .invalid("name", "a list name is not all digits: lists=\(name) names the list with id \(name)")
        }
    }

    /// Whether a list may be deleted: every list but `default`.
    public static func delete(_ list: OptOutList) throws(HushError) {
        if list.isDefault {
            throw HushError(.conflict, field: "id", "the default list cannot be deleted")
        }
    }

    /// Whether an endpoint may be changed to `updated` through the webhook API: a list's own
    /// endpoint keeps its URL, events and list (they follow the list's `webhook_url`), but may be
    /// disabled and enabled.
    public static func update(_ endpoint: WebhookEndpoint, to updated: WebhookEndpoint) throws(HushError) {
        if let owner = endpoint.ownerList, updated.url != endpoint.url || updated.events != endpoint.events || updated.lists != endpoint.lists {
            throw HushError(.conflict, field: "id", "list \(owner) owns this webhook; change it through the list's webhook_url")
        }
    }

    /// Whether an endpoint may be deleted through the webhook API: not a list's own.
    public static func delete(endpointOwnedBy owner: ListID?) throws(HushError) {
        if let owner {
            throw HushError(.conflict, field: "id", "list \(owner) owns this webhook; clear the list's webhook_url instead")
        }
    }

    /// Whether a delivery may be tried again: any but a succeeded one (replay its event instead).
    public static func retry(_ delivery: WebhookDelivery) throws(HushError) {
        if delivery.status == .succeeded {
            throw HushError(.conflict, field: "id", "delivery \(delivery.id) succeeded; replay the event to send it again")
        }
    }
}

extension ChangeRules {
    /// The most suppressions one address may have in force in an organization: enough for
    /// every channel, list and scope a sender really uses, and a bound on the work any one
    /// address's history can cost a check, a replay or a write.
    public static let maximumSuppressionsPerAddress = 1_000

    /// Whether an opt-out counts toward that limit: what callers write does; the person's own
    /// opt-out (a link, a keyword, a trigger) is always recorded, so nobody can fill an address up
    /// to keep it out.
    public static func countsTowardLimit(_ optOut: OptOut) -> Bool {
        Source.claimable.contains(optOut.source)
    }

    /// The error for an address past the limit.
    public static func overLimit() -> HushError {
        HushError(
            .limitExceeded, field: "address",
            "an address may have at most \(maximumSuppressionsPerAddress) opt-outs in force in an organization; this write would pass that, so nothing was recorded")
    }
}
