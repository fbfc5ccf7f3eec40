import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import ServiceLifecycle

/// A Dataverse Web API v9.2 on loopback, faithful to the documented wire formats Hush uses: the
/// Entra token endpoint (client credentials), `WhoAmI`, entity sets with `@odata.etag`, change
/// tracking (`Prefer: odata.track-changes`, `odata.maxpagesize`, `@odata.nextLink`,
/// `@odata.deltaLink`, `$deletedEntity` rows, an expired delta token), `PATCH` with `If-Match`
/// (412 on a stale ETag), 429 with `Retry-After`, and `{"error": {"code", "message"}}` errors.
public actor DynamicsEmulator {
    public struct Row: Sendable {
        public var fields: [String: String?]
        public var booleans: [String: Bool]
        public var version: Int
        public var modifiedBy: String
        public var modifiedOn: Date
        public var deleted: Bool
    }

    public static let tenant = "contoso-tenant"
    public static let clientID = "hush-app"
    public static let clientSecret = "s3cret-Value~1"
    /// The application user Hush's app registration acts as.
    public static let integrationUser = "6e0b3c1a-0000-4000-8000-000000000001"
    public static let salesUser = "9a1d2e3f-0000-4000-8000-000000000002"

    /// The Boolean fields the emulated org has on contacts and leads; unset, they read false.
    public static let booleanFields: Set<String> = [
        "donotemail", "donotbulkemail", "donotphone", "donotfax", "donotpostalmail", "donotsendmm", "isp_donotallowsms", "new_salesoptout",
    ]
    public static let textFields: Set<String> = [
        "emailaddress1", "emailaddress2", "emailaddress3", "telephone1", "telephone2", "mobilephone", "description",
    ]

    private var rows: [String: [String: Row]] = ["contacts": [:], "leads": [:]]
    private var version = 1_000
    /// Every change in version order: what paging and delta reads walk.
    private var changes: [(version: Int, set: String, id: String)] = []
    private var tokens = Set<String>()
    /// Delta tokens below this version are expired.
    private var oldestDelta = 0
    private var throttles: [(count: Int, retryAfter: Int)] = []
    private var writeThrottle: Int?
    private var staleOnce = Set<String>()
    public private(set) var requests: [String: Int] = [:]
    public struct Patch: Sendable {
        public let set: String
        public let id: String
        public let body: String
        public let ifMatch: String?
    }

    public private(set) var patches: [Patch] = []
    private var server: LoopbackServer?
    public private(set) var port = 0

    public static func start() async throws -> DynamicsEmulator {
        let emulator = DynamicsEmulator()
        try await emulator.listen()
        return emulator
    }

    public var url: String { "http://127.0.0.1:\(port)" }
    public var tokenURL: String { "\(url)/\(Self.tenant)/oauth2/v2.0/token" }
    public var totalRequests: Int { requests.values.reduce(0, +) }

    // MARK: What tests do to the CRM

    /// Creates or changes a record as `user` would in the CRM; returns its id.
    @discardableResult
    public func put(
        _ set: String, id: String = UUID().uuidString.lowercased(), fields: [String: String?] = [:], booleans: [String: Bool] = [:],
        by user: String = salesUser
    ) -> String {
        version += 1
        var row = rows[set]?[id] ?? Row(fields: [:], booleans: [:], version: 0, modifiedBy: user, modifiedOn: Date(), deleted: false)
        row.fields.merge(fields) { $1 }
        row.booleans.merge(booleans) { $1 }
        row.version = version
        row.modifiedBy = user
        row.modifiedOn = Date()
        row.deleted = false
        rows[set, default: [:]][id] = row
        changes.append((version, set, id))
        return id
    }

    public func delete(_ set: String, id: String) {
        version += 1
        rows[set]?[id]?.deleted = true
        rows[set]?[id]?.version = version
        changes.append((version, set, id))
    }

    public func row(_ set: String, _ id: String) -> Row? { rows[set]?[id] }

    /// Delta tokens issued before now stop working, as when Dataverse's change tracking retention passes.
    public func expireDeltaTokens() { oldestDelta = version + 1 }

    /// The next `count` data requests are answered 429 with `Retry-After: retryAfter`.
    public func throttle(_ count: Int, retryAfter: Int) { throttles.append((count, retryAfter)) }

    /// Every write is answered 429 with `Retry-After: retryAfter` until `allowWrites()`.
    public func throttleWrites(retryAfter: Int) { writeThrottle = retryAfter }
    public func allowWrites() { writeThrottle = nil }

    /// The next PATCH of the record changes it first, as a user editing at the same moment would.
    public func changeBeforeNextWrite(_ id: String) { staleOnce.insert(id) }
    /// The PATCHes refused with 412: the record, the ETag sent and the row's version then.
    public private(set) var conflicts: [String] = []

    // MARK: Server

    private func listen() async throws {
        let router = Router()
        router.post(":tenant/oauth2/v2.0/token") { request, context in
            try await self.token(request, context)
        }
        router.get("api/data/v9.2/:target") { request, context in
            try await self.answer(request, context)
        }
        router.get("api/data/v9.2/:target/Attributes") { request, context in
            try await self.attributes(request, context)
        }
        router.post("api/data/v9.2/:target") { request, context in
            try await self.answer(request, context)
        }
        router.patch("api/data/v9.2/:target") { request, context in
            try await self.answer(request, context)
        }
        let server = try await LoopbackServer.start(router)
        self.server = server
        port = server.port
    }

    public func stop() async {
        await server?.stop()
    }

    private func token(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        count("token")
        let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        guard context.parameters.get("tenant") == Self.tenant, form["grant_type"] == "client_credentials",
              form["client_id"] == Self.clientID, form["client_secret"] == Self.clientSecret, form["scope"] == "\(url)/.default"
        else {
            return json(401, #"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#)
        }
        let token = UUID().uuidString
        tokens.insert(token)
        return json(200, #"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"\#(token)"}"#)
    }

    private func answer(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer "),
              tokens.contains(String(authorization.dropFirst(7)))
        else { return error(401, "0x80072560", "The user is not a member of the organization.") }
        if request.method != .get, let retryAfter = writeThrottle {
            count("throttled")
            var response = error(429, "0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
            response.headers[.retryAfter] = "\(retryAfter)"
            return response
        }
        if var next = throttles.first {
            count("throttled")
            next.count -= 1
            if next.count == 0 { throttles.removeFirst() } else { throttles[0] = next }
            var response = error(429, "0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
            response.headers[.retryAfter] = "\(next.retryAfter)"
            return response
        }
        let target = context.parameters.get("target") ?? ""
        if request.method == .post {
            guard target == "$batch" else { return error(405, "0x80060888", "POST is for $batch") }
            return try await batch(request)
        }
        if target.hasPrefix("EntityDefinitions(") {
            count("metadata")
            return json(200, #"{"ChangeTrackingEnabled":\#(changeTracking)}"#)
        }
        if target == "WhoAmI" {
            count("whoami")
            return json(200, #"{"@odata.context":"\#(url)/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse","BusinessUnitId":"b1","UserId":"\#(Self.integrationUser)","OrganizationId":"o1"}"#)
        }
        if let open = target.firstIndex(of: "("), target.hasSuffix(")") {
            let set = String(target[..<open])
            let id = String(target[target.index(after: open)..<target.index(before: target.endIndex)])
            return request.method == .patch ? try await patch(set, id, request) : one(set, id, request)
        }
        return list(target, request)
    }

    /// Whether contacts and leads have change tracking on.
    public private(set) var changeTracking = true
    public func setChangeTracking(_ on: Bool) { changeTracking = on }

    /// Pages smaller than the client's `odata.maxpagesize` (the service may send fewer rows
    /// than asked for; a client follows `@odata.nextLink` whatever the size).
    private var pageLimit: Int?
    public func limitPages(to rows: Int) { pageLimit = rows }

    /// `EntityDefinitions(LogicalName='contact')/Attributes`: each column's type and whether it can be updated.
    private func attributes(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let authorization = request.headers[.authorization], tokens.contains(String(authorization.dropFirst(7))) else {
            return error(401, "0x80072560", "The user is not a member of the organization.")
        }
        count("metadata")
        let items = Self.booleanFields.sorted().map { #"{"LogicalName":"\#($0)","AttributeType":"Boolean","IsValidForUpdate":true}"# }
            + Self.textFields.sorted().map { #"{"LogicalName":"\#($0)","AttributeType":"String","IsValidForUpdate":true}"# }
        return json(200, #"{"value":[\#(items.joined(separator: ","))]}"#)
    }

    private func list(_ set: String, _ request: Request) -> Response {
        guard let table = rows[set] else { return error(404, "0x80060888", "Resource not found for the segment '\(set)'.") }
        let query = request.uri.queryParameters
        let select = (query["$select"].map(String.init) ?? "").split(separator: ",").map(String.init)
        if let filter = query["$filter"].map(String.init) {
            return filtered(set, table, filter: filter, select: select)
        }
        let prefer = request.headers[HTTPField.Name("Prefer")!] ?? ""
        let pageSize = prefer.split(separator: ",").compactMap { part -> Int? in
            let item = part.trimmingCharacters(in: CharacterSet.whitespaces)
            return item.hasPrefix("odata.maxpagesize=") ? Int(item.dropFirst(18)) : nil
        }.first.map { min($0, pageLimit ?? $0) } ?? 5_000
        let delta = query["$deltatoken"].flatMap { Int(String($0)) }
        let since = query["$since"].flatMap { Int(String($0)) }
        if let delta, delta < oldestDelta {
            count("expired")
            return error(400, "0x80044352", "Version stamp associated with the client has expired. Please perform a full sync.")
        }
        let entityName = String(set.dropLast())
        let system: Set<String> = [entityName + "id", "_modifiedby_value", "modifiedon"]
        if let unknown = select.first(where: { !system.contains($0) && !Self.booleanFields.contains($0) && !Self.textFields.contains($0) }) {
            return error(400, "0x80060888", "Could not find a property named '\(unknown)' on type 'Microsoft.Dynamics.CRM.\(entityName)'.")
        }
        count(delta == nil && since == nil ? "read" : "delta")
        // A read sees the table as of its first page (`upTo`) and pages by version. A first read
        // lists live rows; a delta read lists what changed after its token, deleted rows among them.
        let from = delta ?? since
        let upTo = query["$upto"].flatMap { Int(String($0)) } ?? version
        let after = query["$skiptoken"].flatMap { Int(String($0)) } ?? from ?? 0
        var page: [(id: String, row: Row)] = []
        var more = false
        var low = 0
        var high = changes.count
        while low < high {
            let middle = (low + high) / 2
            if changes[middle].version <= after { low = middle + 1 } else { high = middle }
        }
        for change in changes[low...] where change.version <= upTo && change.set == set {
            guard let row = table[change.id], row.version == change.version, from != nil || !row.deleted else { continue }
            if page.count == pageSize {
                more = true
                break
            }
            page.append((change.id, row))
        }
        var items: [String] = []
        for (id, row) in page {
            if row.deleted {
                items.append(#"{"@odata.context":"\#(url)/api/data/v9.2/$metadata#\#(set)/$deletedEntity","id":"\#(id)","reason":"deleted"}"#)
                continue
            }
            var object: [String: Any] = ["@odata.etag": "W/\"\(row.version)\"", "\(entityName)id": id]
            for field in select where field != "\(entityName)id" {
                object[field] = Self.value(field, of: row)
            }
            items.append(String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        }
        var body = #"{"@odata.context":"\#(url)/api/data/v9.2/$metadata#\#(set)(\#(select.joined(separator: ",")))","value":[\#(items.joined(separator: ","))]"#
        let selectText = select.joined(separator: ",")
        if more, let last = page.last {
            var next = "\(url)/api/data/v9.2/\(set)?$select=\(selectText)&$skiptoken=\(last.row.version)&$upto=\(upTo)"
            if let from { next += "&$since=\(from)" }
            body += #","@odata.nextLink":"\#(next)""#
        } else if prefer.contains("odata.track-changes") {
            body += #","@odata.deltaLink":"\#(url)/api/data/v9.2/\#(set)?$select=\#(selectText)&$deltatoken=\#(upTo)""#
        }
        return json(200, body + "}")
    }

    /// `$filter=contactid eq <id> or contactid eq <id>…`: the live rows named.
    private func filtered(_ set: String, _ table: [String: Row], filter: String, select: [String]) -> Response {
        count("filter")
        let entityName = String(set.dropLast())
        var items: [String] = []
        for clause in filter.components(separatedBy: " or ") {
            let parts = clause.split(separator: " ")
            guard parts.count == 3, parts[0] == "\(entityName)id", parts[1] == "eq" else {
                return error(400, "0x80060888", "The filter '\(filter)' is not supported here.")
            }
            let id = String(parts[2])
            guard let row = table[id], !row.deleted else { continue }
            var object: [String: Any] = ["@odata.etag": "W/\"\(row.version)\"", "\(entityName)id": id]
            for field in select where field != "\(entityName)id" { object[field] = Self.value(field, of: row) }
            items.append(String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        }
        return json(200, #"{"value":[\#(items.joined(separator: ","))]}"#)
    }

    private func one(_ set: String, _ id: String, _ request: Request, counted: Bool = true) -> Response {
        if counted { count("get") }
        guard let row = rows[set]?[id], !row.deleted else {
            return error(404, "0x80040217", "\(set.dropLast()) With Id = \(id) Does Not Exist")
        }
        let select = (request.uri.queryParameters["$select"].map(String.init) ?? "").split(separator: ",").map(String.init)
        var object: [String: Any] = ["@odata.etag": "W/\"\(row.version)\"", "\(set.dropLast())id": id]
        for field in select where field != "\(set.dropLast())id" { object[field] = Self.value(field, of: row) }
        return json(200, String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }

    /// What one PATCH answers: status, headers and body.
    struct Answer {
        var status: Int
        var headers: [String: String] = [:]
        var body = ""
    }

    private func patch(_ set: String, _ id: String, _ request: Request) async throws -> Response {
        count("patch")
        let body = try await request.body.collect(upTo: 1 << 20)
        let answer = apply(
            set, id, body: String(buffer: body), ifMatch: request.headers[.ifMatch],
            representation: (request.headers[HTTPField.Name("Prefer")!] ?? "").contains("return=representation"),
            select: (request.uri.queryParameters["$select"].map(String.init) ?? "").split(separator: ",").map(String.init))
        var fields = HTTPFields()
        for (name, value) in answer.headers { fields[HTTPField.Name(name)!] = value }
        return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }

    func apply(_ set: String, _ id: String, body: String, ifMatch: String?, representation: Bool, select: [String]) -> Answer {
        let failure = { (status: Int, code: String, message: String) in
            Answer(status: status, headers: ["Content-Type": "application/json; odata.metadata=minimal"],
                   body: #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] else {
            return failure(400, "0x80048d19", "Error identified in Payload provided by the user.")
        }
        patches.append(Patch(set: set, id: id, body: body, ifMatch: ifMatch))
        if staleOnce.remove(id) != nil { put(set, id: id, fields: ["description": "edited meanwhile"]) }
        if let ifMatch {
            guard let row = rows[set]?[id], !row.deleted else {
                return failure(404, "0x80040217", "\(set.dropLast()) With Id = \(id) Does Not Exist")
            }
            guard ifMatch == "*" || ifMatch == "W/\"\(row.version)\"" else {
                conflicts.append("\(id) sent \(ifMatch) had \(row.version)")
                return failure(412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.")
            }
        }
        // Without If-Match a PATCH is an upsert: a missing record would be created.
        var booleans: [String: Bool] = [:]
        for (field, value) in object { if let flag = value as? Bool { booleans[field] = flag } }
        put(set, id: id, booleans: booleans, by: Self.integrationUser)
        guard representation, let row = rows[set]?[id] else {
            return Answer(status: 204, headers: ["OData-EntityId": "\(url)/api/data/v9.2/\(set)(\(id))"])
        }
        var json: [String: Any] = ["@odata.etag": "W/\"\(row.version)\"", "\(set.dropLast())id": id]
        for field in select { json[field] = Self.value(field, of: row) }
        return Answer(status: 200, headers: ["Content-Type": "application/json; odata.metadata=minimal"],
                      body: String(decoding: try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }

    func count(_ kind: String) { requests[kind, default: 0] += 1 }

    /// A column as Dataverse answers it: only when `$select` names it.
    private static func value(_ field: String, of row: Row) -> Any {
        if field == "_modifiedby_value" { return row.modifiedBy }
        if field == "modifiedon" { return ISO8601DateFormatter().string(from: row.modifiedOn) }
        if booleanFields.contains(field) { return row.booleans[field] ?? false }
        return (row.fields[field] ?? nil) ?? NSNull()
    }

    private func json(_ status: Int, _ body: String) -> Response {
        Response(
            status: .init(code: status), headers: [.contentType: "application/json; odata.metadata=minimal"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    func error(_ status: Int, _ code: String, _ message: String) -> Response {
        json(status, #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#)
    }
}
