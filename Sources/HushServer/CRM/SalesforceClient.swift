import Foundation
import HushCore
import NIOHTTP1

/// Salesforce's REST API v60.0: client-credentials tokens, SOQL reads on `SystemModstamp`,
/// `sobjects/{type}/deleted` for deletions, `composite/sobjects` writes of up to 200 records
/// (`allOrNone: false`), and 403 `REQUEST_LIMIT_EXCEEDED` (no Retry-After) when the org's
/// daily API limit is spent.
actor SalesforceClient: CRMClient {
    static let apiPath = "/services/data/v60.0/"
    /// Records per composite write.
    static let writeBatch = 200

    private let connector: Connector
    private let secret: String
    private let http: CRMHTTP
    private var session: (token: String, instance: String, user: String)?

    init(connector: Connector, secret: String, http: CRMHTTP) {
        self.connector = connector
        self.secret = secret
        self.http = http
    }

    static func sobject(_ entity: String) -> String { entity == "lead" ? "Lead" : "Contact" }

    private func login() async throws -> (token: String, instance: String, user: String) {
        if let session { return session }
        let url = connector.tokenURL ?? connector.instanceURL + "/services/oauth2/token"
        let answer = try await http.send(.POST, url, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: formEncoded([
            ("grant_type", "client_credentials"), ("client_id", connector.clientID), ("client_secret", secret),
        ]))
        let json = answer.json as? [String: Any]
        guard answer.status == 200, let token = json?["access_token"] as? String else {
            throw CRMFailure.authFailed(
                code: json?["error"] as? String ?? "HTTP \(answer.status)",
                message: json?["error_description"] as? String ?? "the token endpoint answered \(answer.status)")
        }
        // `id` is https://login.salesforce.com/id/<org id>/<user id>.
        let user = (json?["id"] as? String)?.split(separator: "/").last.map(String.init) ?? ""
        let made = (token, connector.instanceURL, user)
        session = made
        return made
    }

    private func request(_ method: HTTPMethod, _ path: String, body: Any? = nil, retried: Bool = false) async throws -> CRMHTTP.Answer {
        let session = try await login()
        // Data calls stay on the configured instance (paths the CRM hands back are relative).
        let url = connector.instanceURL + path
        var headers = [("Authorization", "Bearer " + session.token), ("Accept", "application/json")]
        var bytes: [UInt8]?
        if let body {
            headers.append(("Content-Type", "application/json"))
            bytes = Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        }
        let answer = try await http.send(method, url, headers: headers, body: bytes)
        if let usage = answer.headers.first(name: "Sforce-Limit-Info") { lastUsage = usage }
        guard answer.status >= 400 else { return answer }
        let error = (answer.json as? [[String: Any]])?.first
        let code = error?["errorCode"] as? String ?? "HTTP \(answer.status)"
        let message = error?["message"] as? String ?? "Salesforce answered \(answer.status)"
        switch (answer.status, code) {
        case (401, _):
            // An access token expires: sign in again once before calling it a failure.
            self.session = nil
            if !retried { return try await request(method, path, body: body, retried: true) }
            throw CRMFailure.authFailed(code: code, message: message)
        case (403, "REQUEST_LIMIT_EXCEEDED"):
            throw CRMFailure.throttled(retryAfter: nil, code: code, message: message)
        case (_, "INVALID_REPLICATION_DATE"):
            throw CRMFailure.expiredPosition
        default:
            throw CRMFailure.vendor(status: answer.status, code: code, message: message)
        }
    }

    func integrationUser() async throws -> String {
        try await login().user
    }

    /// `Sforce-Limit-Info` of the last answer: `api-usage=25/15000`.
    private var lastUsage: String?

    /// The usage Salesforce gave since the last time it was asked (nil when no call answered),
    /// so a run saves only what its own calls learned.
    func apiUsage() async -> String? {
        defer { lastUsage = nil }
        return lastUsage
    }

    /// Where reads stand: the last `SystemModstamp` read and the start of the next deleted window.
    struct Position: Codable {
        var modstamp: String?
        var deletedSince: String
        /// While paging: the next page's URL.
        var next: String?
    }

    /// How far each read reaches back before the last `SystemModstamp` read.
    static let overlap: TimeInterval = 5

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

    func read(entity: String, fields: [String], after position: String?, page: String?) async throws -> CRMPage {
        let object = Self.sobject(entity)
        var rows: [CRMRow] = []
        var state: Position
        let answer: CRMHTTP.Answer
        if let page, let paging = try? JSONDecoder().decode(Position.self, from: Data(page.utf8)), let next = paging.next {
            state = paging
            answer = try await request(.GET, next)
        } else {
            let now = Self.stamp.string(from: Date())
            let previous = position.flatMap { try? JSONDecoder().decode(Position.self, from: Data($0.utf8)) }
            state = Position(modstamp: previous?.modstamp, deletedSince: now)
            if let previous {
                let deleted = try await request(.GET, Self.apiPath + "sobjects/\(object)/deleted/?start="
                    + Self.query(previous.deletedSince) + "&end=" + Self.query(now))
                // The next window starts where Salesforce says this one's coverage ended (its clock, not ours).
                if let covered = (deleted.json as? [String: Any])?["latestDateCovered"] as? String { state.deletedSince = covered }
                for record in ((deleted.json as? [String: Any])?["deletedRecords"] as? [[String: Any]]) ?? [] {
                    if let id = record["id"] as? String { rows.append(CRMRow(key: CRMRecordKey(entity: entity, id: id), version: nil, deleted: true)) }
                }
            }
            var soql = "SELECT Id, SystemModstamp, LastModifiedById, " + fields.joined(separator: ", ") + " FROM \(object)"
            if let since = previous?.modstamp.flatMap(Self.stamp.date(from:)) {
                // Five seconds of overlap: a record whose change committed late with an earlier
                // stamp is still read; one read again compares equal and changes nothing.
                soql += " WHERE SystemModstamp >= " + Self.soqlStamp.string(from: since.addingTimeInterval(-Self.overlap))
            }
            soql += " ORDER BY SystemModstamp, Id"
            answer = try await request(.GET, Self.apiPath + "query?q=" + Self.query(soql))
        }
        guard let json = answer.json as? [String: Any], let records = json["records"] as? [[String: Any]] else {
            throw CRMFailure.vendor(status: answer.status, code: "unexpected", message: "a query answered without records")
        }
        for record in records {
            guard let row = Self.row(record, entity: entity, fields: fields) else { continue }
            rows.append(row)
            if let stamp = row.version, stamp > (state.modstamp ?? "") { state.modstamp = stamp }
        }
        if json["done"] as? Bool == false, let next = json["nextRecordsUrl"] as? String {
            state.next = next
            return CRMPage(rows: rows, next: String(decoding: try JSONEncoder().encode(state), as: UTF8.self), position: nil)
        }
        state.next = nil
        return CRMPage(rows: rows, next: nil, position: String(decoding: try JSONEncoder().encode(state), as: UTF8.self))
    }

    static func query(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func row(_ record: [String: Any], entity: String, fields: [String]) -> CRMRow? {
        guard let id = record["Id"] as? String else { return nil }
        var row = CRMRow(
            key: CRMRecordKey(entity: entity, id: id), version: record["SystemModstamp"] as? String,
            modifiedBy: record["LastModifiedById"] as? String, modifiedOn: record["SystemModstamp"] as? String)
        for field in fields {
            if let flag = record[field] as? Bool { row.booleans[field] = flag } else if let text = record[field] as? String { row.texts[field] = text }
        }
        return row
    }

    func read(_ keys: [CRMRecordKey], fields: [String]) async throws -> [CRMRow] {
        var rows: [CRMRow] = []
        for key in keys {
            do {
                let answer = try await request(.GET, Self.apiPath + "sobjects/\(Self.sobject(key.entity))/\(key.id)?fields="
                    + (["Id", "SystemModstamp", "LastModifiedById"] + fields).joined(separator: ","))
                if let record = answer.json as? [String: Any], let row = Self.row(record, entity: key.entity, fields: fields) { rows.append(row) }
            } catch CRMFailure.vendor(status: 404, _, _) {
                rows.append(CRMRow(key: key, version: nil, deleted: true))
            }
        }
        return rows
    }

    func write(_ writes: [CRMWrite]) async throws -> [CRMWriteResult] {
        var results: [CRMWriteResult] = []
        for start in stride(from: 0, to: writes.count, by: Self.writeBatch) {
            let batch = writes[start..<min(writes.count, start + Self.writeBatch)]
            let answer: CRMHTTP.Answer
            do {
                answer = try await request(.PATCH, Self.apiPath + "composite/sobjects", body: ["allOrNone": false, "records": Self.records(batch)])
            } catch let failure as CRMFailure where failure.isThrottle {
                // What was written stays written; this batch and the rest stay due.
                return results + Array(repeating: .throttled(failure), count: writes.count - start)
            } catch {
                // The whole request failed (5xx, the network, the session): each of its records
                // failed once and backs off, as Dynamics' do, rather than staying due and being
                // sent again every second.
                let (code, message) = (error as? CRMFailure).map { ($0.code, $0.message) } ?? ("unsent", "\(error)")
                results += batch.map { _ in .failed(code: code, message: message) }
                continue
            }
            let outcomes = answer.json as? [[String: Any]] ?? []
            for (position, _) in batch.enumerated() {
                let outcome = position < outcomes.count ? outcomes[position] : [:]
                if outcome["success"] as? Bool == true {
                    results.append(.written(version: nil))
                } else {
                    let error = (outcome["errors"] as? [[String: Any]])?.first
                    results.append(.failed(code: error?["statusCode"] as? String ?? "unknown", message: error?["message"] as? String ?? "not written"))
                }
            }
        }
        return results
    }

    private static func records(_ batch: ArraySlice<CRMWrite>) -> [[String: Any]] {
        batch.map { write in
            var record: [String: Any] = ["attributes": ["type": sobject(write.key.entity)], "id": write.key.id]
            for (field, value) in write.fields { record[field] = value }
            return record
        }
    }

    func test(entities: [String], booleans: [String], written: Set<String>, texts: [String]) async throws -> [String] {
        var problems: [String] = []
        for entity in entities {
            let answer = try await request(.GET, Self.apiPath + "sobjects/\(Self.sobject(entity))/describe")
            let described = ((answer.json as? [String: Any])?["fields"] as? [[String: Any]]) ?? []
            let byName = Dictionary(described.compactMap { field in (field["name"] as? String).map { ($0, field) } }, uniquingKeysWith: { $1 })
            for field in booleans + texts {
                guard let found = byName[field] else {
                    problems.append("\(entity): no field \(field)")
                    continue
                }
                if booleans.contains(field), found["type"] as? String != "boolean" { problems.append("\(entity): \(field) is not a Boolean") }
                if written.contains(field), found["updateable"] as? Bool != true { problems.append("\(entity): \(field) is not writable") }
            }
        }
        return problems
    }
}
