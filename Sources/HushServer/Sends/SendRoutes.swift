import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/sends` and `/v1/audiences/preview`: a broadcast checked before it goes out, answered in
/// the same request and kept as a report of who was held back and why.
struct SendRoutes: Sendable {
    /// A million recipients with long addresses and references fit.
    static let maximumBody = 256 * 1024 * 1024
    static let defaultPageSize = 100
    static let maximumPageSize = 10_000
    static let headerFields: Set<String> = ["name", "campaign", "channel", "scope", "lists"]

    let store: any AccessStore & Directory & Ledger & SendReports & SuppressionChecks
    let metrics: ServerMetrics
    let now: @Sendable () -> Date
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.post, "sends") { request, context in try await check(request, context, records: true) }
        group.on(.get, "sends") { request, context in try await all(request, context) }
        group.on(.get, "sends/:id") { _, context in WrittenJSON(value: SendJSON(send: try await send(context))) }
        group.on(.get, "sends/:id/report") { request, context in try await report(request, context) }
        group.on(.get, "sends/:id/report.csv") { request, context in try await csv(request, context) }
        group.on(.post, "audiences/preview") { request, context in try await check(request, context, records: false) }
    }

    /// The fields that say how recipients are checked, and what the send is called.
    struct Header: Sendable {
        var name: String?
        var campaign: String?
        var query: CheckQuery
        var lists: [ListID]
    }

    // MARK: Checking

    /// Reads the recipients as they arrive and checks them in batches of 10 000 against the
    /// index, two batches at a time; each batch's report is stored as soon as it is checked.
    /// When `channel`, `scope` and `lists` come before `recipients`, only the report is held in
    /// memory; otherwise the recipients wait, parsed, for the end of the body. A send is listed
    /// once every batch is stored; if the request fails, what was stored is removed.
    private func check(_ request: Request, _ context: HushRequestContext, records: Bool) async throws -> Response {
        let caller = try context.caller()
        try await readYourWrites.await(request)
        let organization = try await store.requireOrganization(caller)
        var begun: Send?
        // Checked batches are stored by one task of their own, so checking never waits for the disk.
        let (checked, storing) = AsyncStream<[SendReportChunk]>.makeStream()
        var stored: Task<Void, any Error>?
        do {
            var stream = RecipientStream(fields: Self.headerFields)
            var header: Header?
            var waiting: [RecipientStream.Recipient] = []
            var batches: [SendReportBatch] = []
            var received = 0
            try await withThrowingTaskGroup(of: SendReportBatch.self) { group in
                var inFlight = 0
                func collect(_ batch: SendReportBatch) {
                    batches.append(batch)
                    storing.yield(batch.chunks)
                }
                func submit(_ recipients: ArraySlice<RecipientStream.Recipient>, _ header: Header) async throws {
                    let index = batches.count + inFlight
                    group.addTask { try self.checkBatch(recipients, index: index, header, organization) }
                    inFlight += 1
                    if inFlight >= 2, let done = try await group.next() {
                        collect(done)
                        inFlight -= 1
                    }
                }
                func settle(_ settled: Header) async throws {
                    header = settled
                    if records {
                        let send = try await store.beginSend(Send(
                            name: settled.name, campaign: settled.campaign, channel: settled.query.channel, scope: settled.query.scope,
                            lists: settled.lists, actor: caller.actor, createdAt: now()), in: caller.organization)
                        begun = send
                        let store = self.store
                        stored = Task {
                            for await chunks in checked { try await store.appendReport(chunks, to: send.id) }
                        }
                    }
                }
                for try await chunk in request.body {
                    received += chunk.readableBytes
                    guard received <= Self.maximumBody else {
                        throw Problem(.contentTooLarge, type: "too_large", detail: "a send's body is at most \(Self.maximumBody / 1024 / 1024) MiB")
                    }
                    waiting += try stream.push(chunk.readableBytesView)
                    if header == nil, stream.inRecipients, ["channel", "scope", "lists"].allSatisfy({ stream.fields[$0] != nil }) {
                        try await settle(try await parseHeader(stream.fields, caller))
                    }
                    if let header {
                        while waiting.count >= SendReportBatch.size {
                            try await submit(waiting.prefix(SendReportBatch.size), header)
                            waiting.removeFirst(SendReportBatch.size)
                        }
                    }
                }
                try stream.finish()
                guard stream.inRecipients else { throw Problem.invalid("recipients", "a send needs recipients (an array, which may be empty)") }
                if header == nil {
                    try await settle(try await parseHeader(stream.fields, caller))
                } else {
                    // The recipients began before the body was all here: a name or campaign may follow them.
                    let names = try Self.names(stream.fields)
                    header?.name = names.name
                    header?.campaign = names.campaign
                }
                var rest = waiting[...]
                while !rest.isEmpty, let header {
                    try await submit(rest.prefix(SendReportBatch.size), header)
                    rest = rest.dropFirst(SendReportBatch.size)
                }
                while let done = try await group.next() { collect(done) }
                storing.finish()
                try await stored?.value
            }
            batches.sort { $0.index < $1.index }
            let counts = batches.reduce(Send.Counts()) { $0 + $1.counts }
            metrics.checks.increment(by: Int64(counts.total))
            guard let header else { throw Problem.invalid("channel", "a send needs a channel") }
            var send = begun ?? Send(
                name: header.name, campaign: header.campaign, channel: header.query.channel, scope: header.query.scope,
                lists: header.lists, actor: caller.actor, createdAt: now())
            send.counts = counts
            (send.name, send.campaign) = (header.name, header.campaign)
            if records {
                send = try await store.completeSend(send, in: caller.organization)
            }
            return SendResponse.response(send: send, id: records ? send.id : nil, batches: batches, status: records ? .created : .ok)
        } catch {
            storing.finish()
            _ = await stored?.result
            if let begun { try? await store.discardSend(begun.id) }
            throw error
        }
    }

    private func parseHeader(_ fields: [String: [UInt8]], _ caller: Principal) async throws -> Header {
        guard let channelName = try Self.decode(String.self, "channel", fields) else { throw Problem.invalid("channel", "a send needs a channel") }
        let (name, campaign) = try Self.names(fields)
        let lists = try await (try Self.decode([ListReference].self, "lists", fields) ?? []).resolve(in: caller.organization, store: store)
        let query = CheckQuery(
            channel: try Channel(parsing: channelName), scope: try Scope(parsing: try Self.decode(String.self, "scope", fields) ?? ""),
            lists: Set(lists))
        return Header(name: name, campaign: campaign, query: query, lists: lists)
    }

    /// The send's `name` and `campaign`, checked.
    private static func names(_ fields: [String: [UInt8]]) throws -> (name: String?, campaign: String?) {
        let name = try decode(String.self, "name", fields)
        let campaign = try decode(String.self, "campaign", fields)
        for (key, value) in [("name", name), ("campaign", campaign)] {
            if (value?.count ?? 0) > Send.maximumNameLength {
                throw Problem.invalid(key, "\(key) is longer than \(Send.maximumNameLength) characters")
            }
            try value.map { try JSONBodyCheck.requireNoControlCharacters($0, field: key) }
        }
        return (name, campaign)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ key: String, _ fields: [String: [UInt8]]) throws -> T? {
        guard let raw = fields[key], !raw.elementsEqual("null".utf8) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(raw))
        } catch {
            throw Problem.invalid(key, "\(key) has the wrong type")
        }
    }

    /// Checks batch `index` of the recipients against the index: its report, in order.
    private func checkBatch(
        _ recipients: ArraySlice<RecipientStream.Recipient>, index: Int, _ header: Header, _ organization: Organization
    ) throws -> SendReportBatch {
        let region = organization.settings.defaultRegion
        var report = SendReportBatch(index: index)
        for (offset, recipient) in recipients.enumerated() {
            let position = index * SendReportBatch.size + offset
            let field = "recipients[\(position)]"
            if let ref = recipient.ref, ref.utf8.count > Send.maximumReferenceLength {
                throw Problem.invalid("\(field).ref", "ref is longer than \(Send.maximumReferenceLength) bytes")
            }
            let contact = try recipient.contact.map { id in try naming("\(field).contact") { () throws(HushError) in try ContactID(parsing: id) } }
            let address: Address
            do {
                address = try Address(parsing: recipient.address, region: region)
                try header.query.channel.requireSendable(to: address)
            } catch {
                // An address the channel cannot reach is kept normalized, and only there, so an
                // erasure finds it.
                let unreachable = try? Address(parsing: recipient.address, region: region)
                report.append(.invalid, position: position) { json in
                    json.raw("\"input\":")
                    json.string(unreachable?.normalized ?? recipient.address)
                    Self.writeTail(recipient, &json)
                    json.raw(",\"error\":")
                    json.string(unreachable.map { header.query.channel.refusal(of: $0.kind, named: "this") } ?? error.message)
                }
                continue
            }
            let decision = contact.map { store.decision(for: address, contact: $0, in: organization.id, query: header.query) }
                ?? store.decision(for: address, in: organization.id, query: header.query)
            if decision.allowed {
                report.append(.allowed, position: position) { json in
                    json.raw("\"address\":")
                    json.string(address.normalized)
                    Self.writeTail(recipient, &json)
                }
            } else {
                report.append(.blocked, position: position) { json in
                    json.raw("\"address\":")
                    json.string(address.normalized)
                    Self.writeTail(recipient, &json)
                    json.raw(",\"reason\":")
                    json.string(address.kind.optOutReason)
                    json.raw(",\"blocked_by\":")
                    json.array(decision.blockedBy) { json, block in block.write(to: &json) }
                }
            }
        }
        return report
    }

    /// `contact` and `ref`, when the recipient had them.
    private static func writeTail(_ recipient: RecipientStream.Recipient, _ json: inout JSONWriter) {
        if let contact = recipient.contact {
            json.raw(",\"contact\":")
            json.string(contact)
        }
        if let ref = recipient.ref {
            json.raw(",\"ref\":")
            json.string(ref)
        }
    }

    // MARK: Reading

    struct SendJSON: JSONWritable {
        let send: Send

        func write(to json: inout JSONWriter) {
            json.raw("{")
            send.writeFields(id: send.id, to: &json)
            json.raw("}")
        }
    }

    struct SendsJSON: JSONWritable {
        let sends: [Send]
        let nextCursor: SendID?

        func write(to json: inout JSONWriter) {
            json.raw("{\"sends\":")
            json.array(sends) { json, send in SendJSON(send: send).write(to: &json) }
            json.raw(",\"next_cursor\":")
            json.optionalString(nextCursor.map(String.init))
            json.raw("}")
        }
    }

    private func all(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let query = try Query(request, accepting: ["limit", "cursor"])
        let limit = try query.integer("limit", default: Self.defaultPageSize, range: 1...1_000)
        let after: SendID = try query.cursor("cursor")
        let page = try await store.sends(in: caller.organization, after: after, limit: limit)
        return try WrittenJSON(value: SendsJSON(sends: page, nextCursor: page.count == limit ? page.last?.id : nil))
            .response(from: request, context: context)
    }

    private func send(_ context: HushRequestContext) async throws -> Send {
        let caller = try context.caller()
        let text = context.parameters.get("id") ?? ""
        guard let id = SendID(text), let send = try await store.send(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no send \"\(text)\" in this organization")
        }
        return send
    }

    /// `status` (allowed, blocked, invalid; all when absent), `cursor` (the position the last
    /// page ended at) and `limit`.
    private func page(_ request: Request, _ send: Send) async throws -> (statuses: [SendReportChunk.Status], after: Int, limit: Int) {
        let query = try Query(request, accepting: ["status", "cursor", "limit"])
        let statuses = try query.optional("status").map { text in
            guard let status = SendReportChunk.Status(rawValue: text) else {
                throw Problem.invalid("status", "status is allowed, blocked or invalid")
            }
            return [status]
        } ?? SendReportChunk.Status.allCases
        let cursor = query.optional("cursor")
        guard cursor.map({ Int($0).map { $0 >= 0 } ?? false }) ?? true else {
            throw Problem.invalid("cursor", "cursor must be a cursor returned by the previous page")
        }
        return (statuses, cursor.flatMap { Int($0) } ?? -1, try query.integer("limit", default: Self.defaultPageSize, range: 1...Self.maximumPageSize))
    }

    /// Up to `limit` entries after position `after`, in send order, each with its status.
    private func entries(
        of send: Send, _ statuses: [SendReportChunk.Status], after: Int, limit: Int
    ) async throws -> [(status: SendReportChunk.Status, position: Int, json: ArraySlice<UInt8>)] {
        var merged: [(status: SendReportChunk.Status, position: Int, json: ArraySlice<UInt8>)] = []
        for status in statuses {
            var taken = 0
            var from = after
            while taken < limit {
                let chunks = try await store.reportChunks(of: send.id, status: status, after: from, limit: 2)
                guard !chunks.isEmpty else { break }
                for chunk in chunks {
                    for entry in chunk.split where entry.position > from && taken < limit {
                        merged.append((status, entry.position, entry.json))
                        taken += 1
                    }
                    from = chunk.lastPosition
                }
            }
        }
        merged.sort { $0.position < $1.position }
        return Array(merged.prefix(limit))
    }

    private func report(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let send = try await send(context)
        let (statuses, after, limit) = try await page(request, send)
        let page = try await entries(of: send, statuses, after: after, limit: limit)
        var json = JSONWriter(capacity: 256 * page.count + 64)
        json.raw("{\"entries\":[")
        for (offset, entry) in page.enumerated() {
            if offset > 0 { json.raw(",") }
            json.raw("{\"status\":")
            json.string(entry.status.rawValue)
            json.raw(",")
            json.bytes += entry.json.dropFirst()
        }
        json.raw("],\"next_cursor\":")
        json.optionalString(page.count == limit ? page.last.map { String($0.position) } : nil)
        json.raw("}")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// The whole report (or one status) as CSV, streamed a page at a time.
    private func csv(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let send = try await send(context)
        let (statuses, _, _) = try await page(request, send)
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"send-\(send.id)-report.csv\""
        let store = self.store
        let routes = self
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var lines = CSVLines(capacity: 128)
            lines.row(SendReportCSV.columns)
            try await writer.write(ByteBuffer(bytes: lines.bytes))
            var after = -1
            while true {
                let page = try await routes.entries(of: send, statuses, after: after, limit: SendReportBatch.size)
                guard let last = page.last else { break }
                var lines = CSVLines(capacity: 128 * page.count)
                for entry in page {
                    lines.row(try SendReportCSV.row(entry.status, entry.json))
                }
                try await writer.write(ByteBuffer(bytes: lines.bytes))
                after = last.position
            }
            _ = store
            try await writer.finish(nil)
        })
    }
}
