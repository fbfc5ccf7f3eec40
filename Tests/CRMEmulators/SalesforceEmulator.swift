import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import ServiceLifecycle

/// Salesforce's REST API v60.0 on loopback, faithful to the documented wire formats Hush uses:
/// the client-credentials token endpoint (answer with `instance_url` and `id`), SOQL `query`
/// with `nextRecordsUrl` paging and `SystemModstamp` filters, `sobjects/{type}/deleted`
/// (`INVALID_REPLICATION_DATE` before the window), `sobjects/{type}/{id}` reads,
/// `composite/sobjects` PATCH (at most 200 records, `allOrNone`), `describe`, and 403
/// `REQUEST_LIMIT_EXCEEDED` with `Sforce-Limit-Info`.
public actor SalesforceEmulator {
    public struct Record: Sendable {
        public var type: String
        public var fields: [String: String?]
        public var booleans: [String: Bool]
        public var modstamp: Date
        public var modifiedBy: String
        public var deletedAt: Date?
    }

    public static let clientID = "3MVG9hush"
    public static let clientSecret = "sf-secret-1"
    public static let orgID = "00D000000000001EAA"
    public static let integrationUser = "005000000000001AAA"
    public static let salesUser = "005000000000002AAA"
    /// Fields the emulated org has on Contact and Lead, with whether each is a Boolean.
    public static let schema: [String: Bool] = [
        "Email": false, "Phone": false, "MobilePhone": false, "HasOptedOutOfEmail": true, "DoNotCall": true,
        "HasOptedOutOfFax": true, "Sales_Opt_Out__c": true, "et4ae5__HasOptedOutOfMobile__c": true,
    ]

    private var records: [String: Record] = [:]
    private var clock = Date()
    private var tokens = Set<String>()
    private var limitLeft = Int.max
    private var deletedWindowStart: Date?
    private var pages: [String: [String]] = [:]
    public private(set) var requests: [String: Int] = [:]
    public private(set) var compositeSizes: [Int] = []
    private var server: LoopbackServer?
    public private(set) var port = 0
    private var idCounter = 0

    public static func start() async throws -> SalesforceEmulator {
        let emulator = SalesforceEmulator()
        try await emulator.listen()
        return emulator
    }

    public var url: String { "http://127.0.0.1:\(port)" }
    public var totalRequests: Int { requests.values.reduce(0, +) }

    /// The org's clock: real time (moved by `advance`), never going back. Changes in one
    /// millisecond share a `SystemModstamp`, as they do in Salesforce; reads order by stamp and id.
    private func tick() -> Date {
        clock = max(clock, Date().addingTimeInterval(offset))
        return clock
    }

    private var offset: TimeInterval = 0

    /// Moves the org's clock on, as time passing would.
    public func advance(by seconds: TimeInterval) { offset += seconds }

    @discardableResult
    public func put(
        _ type: String, id: String? = nil, fields: [String: String?] = [:], booleans: [String: Bool] = [:], by user: String = salesUser
    ) -> String {
        let id = id ?? nextID(type)
        var record = records[id] ?? Record(type: type, fields: [:], booleans: [:], modstamp: clock, modifiedBy: user, deletedAt: nil)
        record.fields.merge(fields) { $1 }
        record.booleans.merge(booleans) { $1 }
        record.modstamp = tick()
        record.modifiedBy = user
        records[id] = record
        return id
    }

    private func nextID(_ type: String) -> String {
        idCounter += 1
        return (type == "Lead" ? "00Q" : "003") + String(format: "%012dAAA", idCounter)
    }

    public func delete(_ id: String) {
        records[id]?.deletedAt = tick()
    }

    public func record(_ id: String) -> Record? { records[id] }

    private var changesBeforeWrite: [String: [String: Bool]] = [:]

    /// The next composite write first applies this change by a CRM user, as one saved at the same
    /// moment would be: the write then leaves the record last modified by the integration user.
    public func changeBeforeNextWrite(_ id: String, booleans: [String: Bool]) { changesBeforeWrite[id] = booleans }

    private var failingWrites = 0

    /// The next `count` composite writes answer 503 `SERVER_UNAVAILABLE` as a whole.
    public func failWrites(_ count: Int) { failingWrites = count }

    /// The org has `count` API requests left today; after them, 403 `REQUEST_LIMIT_EXCEEDED`.
    public func limitRequests(to count: Int) { limitLeft = count }

    /// Deleted records before now are no longer available (`INVALID_REPLICATION_DATE` for an older start).
    public func forgetDeletions() { deletedWindowStart = tick() }
    /// Query pages smaller than 2 000 records (Salesforce may answer with fewer, down to 200).
    private var pageLimit = 2_000
    public func limitPages(to records: Int) { pageLimit = records }

    // MARK: Server

    private func listen() async throws {
        let router = Router()
        router.post("services/oauth2/token") { request, _ in try await self.token(request) }
        router.get("services/data/v60.0/**") { request, _ in try await self.answer(request) }
        router.patch("services/data/v60.0/**") { request, _ in try await self.answer(request) }
        let server = try await LoopbackServer.start(router)
        self.server = server
        port = server.port
    }

    public func stop() async {
        await server?.stop()
    }

    private func token(_ request: Request) async throws -> Response {
        count("token")
        let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        guard form["grant_type"] == "client_credentials", form["client_id"] == Self.clientID, form["client_secret"] == Self.clientSecret else {
            return json(400, #"{"error":"invalid_client","error_description":"invalid client credentials"}"#)
        }
        let token = "00D!" + UUID().uuidString
        tokens.insert(token)
        return json(200, #"{"access_token":"\#(token)","instance_url":"\#(url)","id":"https://login.salesforce.com/id/\#(Self.orgID)/\#(Self.integrationUser)","token_type":"Bearer","issued_at":"1790000000000","signature":"x"}"#)
    }

    private func answer(_ request: Request) async throws -> Response {
        guard let authorization = request.headers[.authorization], tokens.contains(String(authorization.dropFirst(7))) else {
            return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        }
        guard limitLeft > 0 else {
            count("limited")
            return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        }
        limitLeft -= 1
        let path = request.uri.path.replacingOccurrences(of: "/services/data/v60.0/", with: "")
        let parts = path.split(separator: "/").map(String.init)
        var response: Response
        switch (request.method, parts.first) {
        case (.get, "query"):
            response = parts.count == 2 ? page(parts[1]) : query(request.uri.queryParameters["q"].map(String.init) ?? "")
        case (.patch, "composite"):
            response = try await composite(request)
        case (.get, "sobjects") where parts.count == 3 && parts[2] == "deleted":
            response = deleted(parts[1], request)
        case (.get, "sobjects") where parts.count == 3 && parts[2] == "describe":
            count("describe")
            let fields = Self.schema.map { #"{"name":"\#($0.key)","type":"\#($0.value ? "boolean" : "string")","updateable":true}"# }
            response = json(200, #"{"name":"\#(parts[1])","fields":[{"name":"Id","type":"id","updateable":false},\#(fields.joined(separator: ","))]}"#)
        case (.get, "sobjects") where parts.count == 3:
            response = one(parts[2], request)
        default:
            response = errors(404, "NOT_FOUND", "The requested resource does not exist")
        }
        response.headers[HTTPField.Name("Sforce-Limit-Info")!] = "api-usage=\(totalRequests)/15000"
        return response
    }

    private func query(_ soql: String) -> Response {
        count("query")
        // SELECT a, b FROM Type [WHERE SystemModstamp >= stamp] ORDER BY SystemModstamp, Id
        guard let select = soql.range(of: "SELECT "), let from = soql.range(of: " FROM ") else {
            return errors(400, "MALFORMED_QUERY", "unexpected token")
        }
        let fields = soql[select.upperBound..<from.lowerBound].split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet.whitespaces) }
        let rest = soql[from.upperBound...].split(separator: " ").map(String.init)
        let type = rest.first ?? ""
        var since: Date?
        if let position = rest.firstIndex(of: ">="), position + 1 < rest.count {
            since = Self.soqlStamp.date(from: rest[position + 1])
            if since == nil { return errors(400, "MALFORMED_QUERY", "invalid date: \(rest[position + 1])") }
        }
        for field in fields where !["Id", "SystemModstamp", "LastModifiedById"].contains(field) && Self.schema[field] == nil {
            return errors(400, "INVALID_FIELD", "No such column '\(field)' on entity '\(type)'.")
        }
        let matching = records.filter { entry in
            entry.value.type == type && entry.value.deletedAt == nil && entry.value.modstamp >= (since ?? .distantPast)
        }
            .sorted { ($0.value.modstamp, $0.key) < ($1.value.modstamp, $1.key) }
        let objects = matching.map { id, record in
            var object: [String: Any] = [
                "attributes": ["type": type, "url": "/services/data/v60.0/sobjects/\(type)/\(id)"], "Id": id,
                "SystemModstamp": Self.stamp.string(from: record.modstamp), "LastModifiedById": record.modifiedBy,
            ]
            for field in fields where object[field] == nil {
                object[field] = record.booleans[field] ?? (Self.schema[field] == true ? false : nil) ?? (record.fields[field] ?? nil) ?? NSNull()
            }
            return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        return pageAnswer(objects, total: objects.count)
    }

    /// 2 000 records per page (or `pageLimit`), the rest behind `nextRecordsUrl`.
    private func pageAnswer(_ objects: [String], total: Int) -> Response {
        let first = Array(objects.prefix(pageLimit))
        var body = #"{"totalSize":\#(total),"done":\#(objects.count <= pageLimit)"#
        if objects.count > pageLimit {
            let locator = "01g" + UUID().uuidString.prefix(8) + "-\(pageLimit)"
            pages[locator] = Array(objects.dropFirst(pageLimit))
            body += #","nextRecordsUrl":"/services/data/v60.0/query/\#(locator)""#
        }
        return json(200, body + #","records":[\#(first.joined(separator: ","))]}"#)
    }

    private func page(_ locator: String) -> Response {
        count("query")
        guard let rest = pages.removeValue(forKey: locator) else { return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator") }
        return pageAnswer(rest, total: rest.count)
    }

    private func deleted(_ type: String, _ request: Request) -> Response {
        count("deleted")
        let query = request.uri.queryParameters
        guard let start = query["start"].flatMap({ Self.stamp.date(from: String($0)) }),
              let end = query["end"].flatMap({ Self.stamp.date(from: String($0)) })
        else { return errors(400, "INVALID_REPLICATION_DATE", "start and end are required") }
        if let window = deletedWindowStart, start < window {
            return errors(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
        }
        _ = end
        let items = records.filter { $0.value.type == type && ($0.value.deletedAt.map { $0 >= start } ?? false) }
            .map { #"{"id":"\#($0.key)","deletedDate":"\#(Self.stamp.string(from: $0.value.deletedAt!))"}"# }
        return json(200, #"{"deletedRecords":[\#(items.joined(separator: ","))],"earliestDateAvailable":"2026-01-01T00:00:00.000+0000","latestDateCovered":"\#(Self.stamp.string(from: clock))"}"#)
    }

    private func one(_ id: String, _ request: Request) -> Response {
        count("get")
        guard let record = records[id], record.deletedAt == nil else { return errors(404, "NOT_FOUND", "The requested resource does not exist") }
        let fields = (request.uri.queryParameters["fields"].map(String.init) ?? "").split(separator: ",").map(String.init)
        var object: [String: Any] = ["attributes": ["type": record.type], "Id": id, "SystemModstamp": Self.stamp.string(from: record.modstamp),
                                     "LastModifiedById": record.modifiedBy]
        for field in fields where object[field] == nil { object[field] = record.booleans[field] ?? (record.fields[field] ?? nil) ?? NSNull() }
        return json(200, String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }

    private func composite(_ request: Request) async throws -> Response {
        count("composite")
        if failingWrites > 0 {
            failingWrites -= 1
            return errors(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable")
        }
        let body = try await request.body.collect(upTo: 8 << 20)
        guard let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
              let items = object["records"] as? [[String: Any]]
        else { return errors(400, "JSON_PARSER_ERROR", "Cannot deserialize") }
        guard items.count <= 200 else { return errors(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call") }
        compositeSizes.append(items.count)
        for (id, booleans) in changesBeforeWrite { put("Contact", id: id, booleans: booleans) }
        changesBeforeWrite = [:]
        var results: [String] = []
        for item in items {
            guard let id = item["id"] as? String, var record = records[id], record.deletedAt == nil else {
                results.append(#"{"success":false,"errors":[{"statusCode":"ENTITY_IS_DELETED","message":"entity is deleted","fields":[]}]}"#)
                continue
            }
            for (field, value) in item {
                if let flag = value as? Bool { record.booleans[field] = flag }
            }
            record.modstamp = tick()
            record.modifiedBy = Self.integrationUser
            records[id] = record
            results.append(#"{"id":"\#(id)","success":true,"errors":[]}"#)
        }
        return json(200, "[" + results.joined(separator: ",") + "]")
    }

    /// SOQL's datetime literal, to the second: `2026-11-29T19:43:31Z`.
    static let soqlStamp: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return formatter
    }()

    static let stamp: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
        return formatter
    }()

    private func count(_ kind: String) { requests[kind, default: 0] += 1 }

    private func json(_ status: Int, _ body: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json;charset=UTF-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private func errors(_ status: Int, _ code: String, _ message: String) -> Response {
        json(status, #"[{"message":"\#(message)","errorCode":"\#(code)"}]"#)
    }
}
