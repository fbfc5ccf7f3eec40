import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/connectors`: two-way CRM sync of opt-out fields (docs/crm.md). Admin keys only: a
/// connector decides what reaches a CRM and what a CRM records in Hush.
struct ConnectorRoutes: Sendable {
    let store: any AccessStore & Directory & ConnectorStore & ConnectorRecords & SuppressionChecks
    let runner: ConnectorRunner
    let allowPrivateTargets: Bool
    let now: @Sendable () -> Date

    func register(on group: V1Group) {
        group.on(.post, "connectors", roles: [.admin]) { request, context in try await create(request, context) }
        group.on(.get, "connectors", roles: [.admin]) { _, context in
            JSONBody(ConnectorsJSON(connectors: try await store.connectors(in: try context.caller().organization).map(ConnectorJSON.init)))
        }
        group.on(.get, "connectors/:id", roles: [.admin]) { _, context in JSONBody(ConnectorJSON(try await connector(context))) }
        group.on(.patch, "connectors/:id", roles: [.admin]) { request, context in try await update(request, context) }
        group.on(.delete, "connectors/:id", roles: [.admin]) { _, context in try await delete(context) }
        group.on(.post, "connectors/:id/test", roles: [.admin]) { _, context in try await test(context) }
        group.on(.post, "connectors/:id/sync", roles: [.admin]) { request, context in
            let dryRun = try Query(request, accepting: ["dry_run"]).boolean("dry_run", default: false)
            return JSONBody(RunJSON(dryRun: dryRun, report: try await runner.run(try await connector(context), dryRun: dryRun)))
        }
        group.on(.post, "connectors/:id/resync", roles: [.admin]) { _, context in
            JSONBody(RunJSON(dryRun: false, report: try await runner.run(try await connector(context), full: true)))
        }
        group.on(.get, "connectors/:id/status", roles: [.admin]) { _, context in try await status(context) }
        group.on(.get, "connectors/:id/log", roles: [.admin]) { request, context in
            let limit = try Query(request, accepting: ["limit"]).integer("limit", default: 100, range: 1...ConnectorLogEntry.kept)
            let entries = try await store.connectorLog(of: try await connector(context).id, limit: limit)
            return JSONBody(LogJSON(entries: entries.map(LogJSON.Entry.init)))
        }
    }

    static func scope(_ path: String) throws -> Scope {
        try naming("scope") { () throws(HushError) in try Scope(parsing: path) }
    }

    private func connector(_ context: HushRequestContext) async throws -> Connector {
        let caller = try context.caller()
        let text = context.parameters.get("id") ?? ""
        guard let id = ConnectorID(text), let connector = try await store.connector(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no connector \"\(text)\" in this organization")
        }
        return connector
    }

    // MARK: Settings

    private func create(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(ConnectorInput.self, context: context)
        let stored = try await create(input, in: try await store.requireOrganization(caller))
        return try JSONBody(ConnectorJSON(stored), status: .created).response(from: request, context: context)
    }

    /// Makes a connector from what a caller gave (the API's body, or the CLI's JSON).
    func create(_ input: ConnectorInput, in organization: Organization) async throws -> Connector {
        guard let provider = input.provider else { throw Problem.invalid("provider", "a connector needs a provider: dynamics or salesforce") }
        guard let mode = input.mode else { throw Problem.invalid("mode", "a connector needs a mode: shared_field, sales_field or hush_only") }
        guard let auth = input.auth, let clientID = auth.clientID, let secret = auth.clientSecret else {
            throw Problem.invalid("auth", "a connector needs auth.client_id and auth.client_secret")
        }
        guard let instanceURL = input.instanceURL else { throw Problem.invalid("instance_url", "a connector needs the CRM's instance_url") }
        var list = organization.defaultList
        if let reference = input.list { list = try await reference.resolve(in: organization.id, store: store, field: "list") }
        var connector = Connector(
            organization: organization.id, name: input.name ?? "", provider: provider, instanceURL: instanceURL, tokenURL: input.tokenURL,
            mode: mode, scope: try input.scope.map(Self.scope) ?? .organization, list: list,
            entities: input.entities ?? ["contact", "lead"], fields: [], match: ConnectorPresets.match(provider),
            pollSeconds: input.pollSeconds ?? 60, onCRMUncheck: input.onCRMUncheck, pushOptIns: input.pushOptIns ?? false,
            skipOptedOut: input.skipOptedOut ?? false, enabled: input.enabled ?? true, tenant: auth.tenant, clientID: clientID)
        applyPresets(input, to: &connector, creating: true)
        try await check(connector)
        return try await store.createConnector(connector, secret: secret, in: organization.id)
    }

    /// Fills `fields` and `match` from the provider and mode where the caller left them out
    /// (on a change: where they came from presets and the provider or mode changed), and says
    /// so in `presets`.
    private func applyPresets(_ input: ConnectorInput, to connector: inout Connector, creating: Bool) {
        var presets = Set(connector.presets)
        let reshaped = input.provider != nil || input.mode != nil || input.smsField != nil || input.salesField != nil
        if let fields = input.fields {
            connector.fields = fields
            presets.remove("fields")
        } else if creating || (reshaped && presets.contains("fields")) {
            connector.fields = ConnectorPresets.fields(connector.provider, connector.mode, smsField: input.smsField, salesField: input.salesField)
            presets.insert("fields")
        }
        if let match = input.match {
            connector.match = match
            presets.remove("match")
        } else if creating || (input.provider != nil && presets.contains("match")) {
            connector.match = ConnectorPresets.match(connector.provider)
            presets.insert("match")
        }
        connector.presets = presets.sorted()
    }

    /// The rules every setting follows, and the target check webhooks pass too.
    private func check(_ connector: Connector) async throws {
        try connector.validate()
        try await WebhookTarget.check(connector.instanceURL, allowPrivate: allowPrivateTargets, field: "instance_url")
        if let tokenURL = connector.tokenURL {
            try await WebhookTarget.check(tokenURL, allowPrivate: allowPrivateTargets, field: "token_url")
        }
    }

    private func update(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<ConnectorJSON> {
        let caller = try context.caller()
        var connector = try await connector(context)
        let before = connector
        let input = try await request.input(ConnectorInput.self, context: context)
        if let name = input.name { connector.name = name }
        if let provider = input.provider { connector.provider = provider }
        if let mode = input.mode {
            if mode != connector.mode, input.onCRMUncheck == nil { connector.onCRMUncheck = mode == .salesField ? .reassert : .review }
            connector.mode = mode
        }
        if let url = input.instanceURL { connector.instanceURL = url }
        if let tokenURL = input.tokenURL { connector.tokenURL = tokenURL }
        if let scope = input.scope { connector.scope = try Self.scope(scope) }
        if let list = input.list { connector.list = try await list.resolve(in: caller.organization, store: store, field: "list") }
        if let entities = input.entities { connector.entities = entities }
        if let poll = input.pollSeconds { connector.pollSeconds = poll }
        if let action = input.onCRMUncheck { connector.onCRMUncheck = action }
        if let push = input.pushOptIns { connector.pushOptIns = push }
        if let skip = input.skipOptedOut { connector.skipOptedOut = skip }
        if let enabled = input.enabled { connector.enabled = enabled }
        if let tenant = input.auth?.tenant { connector.tenant = tenant }
        if let clientID = input.auth?.clientID { connector.clientID = clientID }
        applyPresets(input, to: &connector, creating: false)
        if input.auth?.clientSecret != nil { connector.secretRevision += 1 }
        try await check(connector)
        let stored = try await store.updateConnector(
            connector, secret: input.auth?.clientSecret, resetting: before.readsOtherData(than: connector), in: caller.organization)
        runner.forget(stored.id)
        return JSONBody(ConnectorJSON(stored))
    }

    private func delete(_ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let connector = try await connector(context)
        _ = try await store.deleteConnector(connector.id, in: caller.organization)
        runner.forget(connector.id)
        return Response(status: .noContent)
    }

    // MARK: Running

    struct TestJSON: Encodable, Sendable {
        let ok: Bool
        @NullEncoded var integrationUser: String?
        let problems: [String]

        enum CodingKeys: String, CodingKey {
            case ok, problems
            case integrationUser = "integration_user"
        }
    }

    private func test(_ context: HushRequestContext) async throws -> JSONBody<TestJSON> {
        JSONBody(try await test(try await connector(context)))
    }

    /// Signs in, asks who Hush acts as, and checks every mapped field on every entity.
    func test(_ connector: Connector) async throws -> TestJSON {
        runner.forget(connector.id)
        let client = try await runner.client(for: connector)
        do {
            let user = try await client.integrationUser()
            let problems = try await client.test(
                entities: connector.entities, booleans: connector.fields.map(\.field), written: Set(connector.writtenFields.map(\.field)),
                texts: connector.match.fields)
            return TestJSON(ok: problems.isEmpty, integrationUser: user, problems: problems)
        } catch let failure as CRMFailure {
            return TestJSON(ok: false, integrationUser: nil, problems: ["\(failure.code): \(failure.message)"])
        }
    }

    private func status(_ context: HushRequestContext) async throws -> JSONBody<StatusJSON> {
        JSONBody(try await status(try await connector(context)))
    }

    func status(_ connector: Connector) async throws -> StatusJSON {
        let state = try await store.connectorState(connector.id)
        let applied = await store.appliedSequence()
        return StatusJSON(
            connector: connector, state: state, pending: try await store.pendingPushes(of: connector.id),
            behind: max(0, applied - state.pushCursor), now: now())
    }
}

extension Query {
    func boolean(_ name: String, default value: Bool) throws -> Bool {
        switch optional(name) {
        case nil: return value
        case "true", "1": return true
        case "false", "0": return false
        default: throw Problem.invalid(name, "\(name) is true or false")
        }
    }
}
