import Foundation
import HushCore
import NIOHTTP1

/// Dataverse Web API v9.2: client-credentials tokens from Microsoft Entra, change tracking reads,
/// `PATCH` with `If-Match` (never without: a PATCH without it would create a missing record).
actor DynamicsClient: CRMClient {
    static let apiPath = "/api/data/v9.2/"
    /// Rows per page Hush asks for (`odata.maxpagesize`).
    static let pageSize = 500

    private let connector: Connector
    private let secret: String
    private let http: CRMHTTP
    private var token: (value: String, expires: Date)?
    /// `$batch` requests sent at once: halved when the service throttles (a 429), grown back by
    /// one after each write that was not throttled, up to `maximumConcurrency`. Dataverse allows
    /// 52 concurrent requests per user.
    private(set) var concurrency = maximumConcurrency
    static let maximumConcurrency = 4

    init(connector: Connector, secret: String, http: CRMHTTP) {
        self.connector = connector
        self.secret = secret
        self.http = http
    }

    static func entitySet(_ entity: String) -> String { entity + "s" }

    private var tokenURL: String {
        connector.tokenURL ?? "https://login.microsoftonline.com/\(connector.tenant ?? "")/oauth2/v2.0/token"
    }

    private func accessToken() async throws -> String {
        if let token, token.expires > Date() { return token.value }
        let answer = try await http.send(.POST, tokenURL, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: formEncoded([
            ("grant_type", "client_credentials"), ("client_id", connector.clientID), ("client_secret", secret),
            ("scope", connector.instanceURL + "/.default"),
        ]))
        let json = answer.json as? [String: Any]
        guard answer.status == 200, let value = json?["access_token"] as? String else {
            throw CRMFailure.authFailed(
                code: json?["error"] as? String ?? "HTTP \(answer.status)",
                message: json?["error_description"] as? String ?? "the token endpoint answered \(answer.status)")
        }
        let lifetime = (json?["expires_in"] as? Int) ?? 3_599
        token = (value, Date().addingTimeInterval(Double(max(60, lifetime - 60))))
        return value
    }

    private func request(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> CRMHTTP.Answer {
        let token = try await accessToken()
        let answer = try await http.send(method, url, headers: [
            ("Authorization", "Bearer " + token), ("Accept", "application/json"), ("OData-MaxVersion", "4.0"), ("OData-Version", "4.0"),
        ] + headers, body: body)
        guard answer.status >= 400 else { return answer }
        let error = (answer.json as? [String: Any])?["error"] as? [String: Any]
        let code = error?["code"] as? String ?? "HTTP \(answer.status)"
        let message = error?["message"] as? String ?? "Dataverse answered \(answer.status)"
        switch answer.status {
        case 401:
            self.token = nil
            throw CRMFailure.authFailed(code: code, message: message)
        case 429:
            concurrency = max(1, concurrency / 2)
            let seconds = answer.headers.first(name: "Retry-After").flatMap(Int.init)
            throw CRMFailure.throttled(retryAfter: seconds.map { .seconds($0) }, code: code, message: message)
        default:
            // ExpiredVersionStamp: the delta token outlived change tracking's retention.
            if code == "0x80044352" { throw CRMFailure.expiredPosition }
            throw CRMFailure.vendor(status: answer.status, code: code, message: message)
        }
    }

    func integrationUser() async throws -> String {
        let answer = try await request(.GET, connector.instanceURL + Self.apiPath + "WhoAmI")
        guard let user = (answer.json as? [String: Any])?["UserId"] as? String else {
            throw CRMFailure.vendor(status: answer.status, code: "unexpected", message: "WhoAmI answered without a UserId")
        }
        return user
    }

    func read(entity: String, fields: [String], after position: String?, page: String?) async throws -> CRMPage {
        let url = page ?? position ?? connector.instanceURL + Self.apiPath + Self.entitySet(entity) + "?$select="
            + Self.selected(entity, fields).joined(separator: ",")
        // Links the CRM hands back stay on the instance: the access token goes nowhere else.
        guard url.hasPrefix(connector.instanceURL + "/") else {
            throw CRMFailure.vendor(status: 0, code: "foreign_link", message: "the CRM returned a link to another host")
        }
        let answer = try await request(.GET, url, headers: [("Prefer", "odata.track-changes,odata.maxpagesize=\(Self.pageSize)")])
        guard let json = answer.json as? [String: Any], let values = json["value"] as? [[String: Any]] else {
            throw CRMFailure.vendor(status: answer.status, code: "unexpected", message: "a read answered without a value array")
        }
        return CRMPage(
            rows: values.compactMap { Self.row($0, entity: entity, fields: fields) }, next: json["@odata.nextLink"] as? String,
            position: json["@odata.deltaLink"] as? String)
    }

    /// What a read selects: the id, who changed the row and when (Dataverse answers only the
    /// columns named), and the mapped fields.
    static func selected(_ entity: String, _ fields: [String]) -> [String] {
        [entity + "id", "_modifiedby_value", "modifiedon"] + fields
    }

    static func row(_ object: [String: Any], entity: String, fields: [String]) -> CRMRow? {
        if let context = object["@odata.context"] as? String, context.contains("$deletedEntity") {
            guard let id = object["id"] as? String else { return nil }
            return CRMRow(key: CRMRecordKey(entity: entity, id: id), version: nil, deleted: true)
        }
        guard let id = object[entity + "id"] as? String else { return nil }
        var row = CRMRow(
            key: CRMRecordKey(entity: entity, id: id), version: object["@odata.etag"] as? String,
            modifiedBy: object["_modifiedby_value"] as? String, modifiedOn: object["modifiedon"] as? String)
        for field in fields {
            if let flag = object[field] as? Bool { row.booleans[field] = flag } else if let text = object[field] as? String { row.texts[field] = text }
        }
        return row
    }

    /// Records read again by id, `readChunk` at a time in one filtered query each
    /// (`contactid eq … or contactid eq …`); a record the query does not return is gone.
    func read(_ keys: [CRMRecordKey], fields: [String]) async throws -> [CRMRow] {
        var rows: [CRMRow] = []
        for (entity, group) in Dictionary(grouping: keys, by: \.entity).sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: group.count, by: Self.readChunk) {
                let chunk = group[start..<min(group.count, start + Self.readChunk)]
                let filter = chunk.map { "\(entity)id eq \($0.id)" }.joined(separator: " or ")
                let url = connector.instanceURL + Self.apiPath + Self.entitySet(entity) + "?$select="
                    + Self.selected(entity, fields).joined(separator: ",") + "&$filter="
                    + (filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? filter)
                let answer = try await request(.GET, url)
                let found = ((answer.json as? [String: Any])?["value"] as? [[String: Any]] ?? []).compactMap { Self.row($0, entity: entity, fields: fields) }
                let ids = Set(found.map(\.key.id))
                rows += found
                rows += chunk.filter { !ids.contains($0.id) }.map { CRMRow(key: $0, version: nil, deleted: true) }
            }
        }
        return rows
    }

    /// Ids per re-read query: 50 GUIDs keep the URL near 3 KB.
    static let readChunk = 50

    /// Writes in `$batch` requests of `batchSize` operations, each a `PATCH` with `If-Match` and
    /// `Prefer: return=representation` (the answer carries the new ETag), with
    /// `odata.continue-on-error` so one refused record does not stop the rest. A throttled batch
    /// throws with every record of it still due.
    func write(_ writes: [CRMWrite]) async throws -> [CRMWriteResult] {
        let batches = stride(from: 0, to: writes.count, by: Self.batchSize).map { Array(writes[$0..<min(writes.count, $0 + Self.batchSize)]) }
        var results = batches.map { batch in [CRMWriteResult](repeating: .throttled(.throttled(retryAfter: nil, code: "unsent", message: "not sent")), count: batch.count) }
        var next = 0
        var throttle: CRMFailure?
        while next < batches.count, throttle == nil {
            let wave = next..<min(batches.count, next + concurrency)
            let sending = wave.map { index in Task { try await self.batch(batches[index]) } }
            for (index, task) in zip(wave, sending) {
                do {
                    results[index] = try await task.value
                } catch let failure as CRMFailure where failure.isThrottle {
                    throttle = failure
                } catch {
                    results[index] = batches[index].map { _ in .failed(code: "unsent", message: "\(error)") }
                }
            }
            next = wave.upperBound
        }
        // A throttle leaves what was answered answered, and the rest due: results say which.
        if let throttle {
            results = results.map { batch in batch.map { if case .throttled = $0 { .throttled(throttle) } else { $0 } } }
        } else {
            concurrency = min(Self.maximumConcurrency, concurrency + 1)
        }
        return results.flatMap { $0 }
    }

    /// Operations per `$batch` request (Dataverse takes up to 1 000).
    static let batchSize = 200

    private func batch(_ writes: [CRMWrite]) async throws -> [CRMWriteResult] {
        let boundary = "batch_" + UUID().uuidString
        var body = ""
        var sent: [Int] = []
        var results = [CRMWriteResult?](repeating: nil, count: writes.count)
        for (position, write) in writes.enumerated() {
            // Never a PATCH without If-Match: it would create a record that is missing.
            guard let version = write.version else {
                results[position] = .stale
                continue
            }
            let json = String(decoding: try JSONSerialization.data(withJSONObject: write.fields, options: [.sortedKeys]), as: UTF8.self)
            body += "--\(boundary)\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            body += "PATCH \(Self.apiPath)\(Self.entitySet(write.key.entity))(\(write.key.id))?$select=\(write.fields.keys.sorted().joined(separator: ",")) HTTP/1.1\r\n"
            body += "Content-Type: application/json\r\nIf-Match: \(version)\r\nPrefer: return=representation\r\n\r\n\(json)\r\n"
            sent.append(position)
        }
        guard !sent.isEmpty else { return results.map { $0 ?? .stale } }
        body += "--\(boundary)--\r\n"
        let answer = try await request(.POST, connector.instanceURL + Self.apiPath + "$batch", headers: [
            ("Content-Type", "multipart/mixed; boundary=\(boundary)"), ("Prefer", "odata.continue-on-error"),
        ], body: Array(body.utf8))
        let parts = Self.responses(answer)
        for (index, position) in sent.enumerated() {
            guard index < parts.count else {
                results[position] = .failed(code: "unanswered", message: "the $batch answer had no part for this write")
                continue
            }
            let part = parts[index]
            switch part.status {
            case 200..<300:
                results[position] = .written(version: (part.json as? [String: Any])?["@odata.etag"] as? String)
            case 412:
                results[position] = .stale
            case 429:
                concurrency = max(1, concurrency / 2)
                results[position] = .throttled(.throttled(retryAfter: part.retryAfter.map { .seconds($0) }, code: part.code, message: part.message))
            case 401:
                throw CRMFailure.authFailed(code: part.code, message: part.message)
            default:
                results[position] = .failed(code: part.code, message: part.message)
            }
        }
        return results.map { $0 ?? .stale }
    }

    /// One answer inside a `$batch` response.
    struct Part {
        var status: Int
        var retryAfter: Int?
        var body: String

        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
        var error: [String: Any]? { (json as? [String: Any])?["error"] as? [String: Any] }
        var code: String { error?["code"] as? String ?? "HTTP \(status)" }
        var message: String { error?["message"] as? String ?? "Dataverse answered \(status)" }
    }

    /// The parts of a `multipart/mixed` `$batch` response, in order.
    static func responses(_ answer: CRMHTTP.Answer) -> [Part] {
        let type = answer.headers.first(name: "Content-Type") ?? ""
        guard let range = type.range(of: "boundary=") else { return [] }
        let boundary = "--" + type[range.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: "\" ;"))
        let text = String(decoding: answer.body, as: UTF8.self)
        var parts: [Part] = []
        for chunk in text.components(separatedBy: boundary).dropFirst() where !chunk.hasPrefix("--") {
            // The part's own headers, a blank line, then the HTTP response: status line, headers, blank line, body.
            let sections = chunk.components(separatedBy: "\r\n\r\n")
            guard sections.count >= 2 else { continue }
            let head = sections[1].components(separatedBy: "\r\n")
            let status = head.first.flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
            let retryAfter = head.first { $0.lowercased().hasPrefix("retry-after:") }.flatMap { Int($0.dropFirst(12).trimmingCharacters(in: .whitespaces)) }
            let body = sections.dropFirst(2).joined(separator: "\r\n\r\n").trimmingCharacters(in: .whitespacesAndNewlines)
            parts.append(Part(status: status, retryAfter: retryAfter, body: body))
        }
        return parts
    }

    func test(entities: [String], booleans: [String], written: Set<String>, texts: [String]) async throws -> [String] {
        var problems: [String] = []
        for entity in entities {
            let definition = connector.instanceURL + Self.apiPath + "EntityDefinitions(LogicalName='\(entity)')"
            let table = try await request(.GET, definition + "?$select=ChangeTrackingEnabled")
            if (table.json as? [String: Any])?["ChangeTrackingEnabled"] as? Bool != true {
                problems.append("\(entity): change tracking is off (Power Apps, Tables, \(entity), Advanced options, Track changes)")
            }
            let answer = try await request(.GET, definition + "/Attributes?$select=LogicalName,AttributeType,IsValidForUpdate")
            let columns = ((answer.json as? [String: Any])?["value"] as? [[String: Any]]) ?? []
            let byName = Dictionary(columns.compactMap { column in (column["LogicalName"] as? String).map { ($0, column) } }, uniquingKeysWith: { $1 })
            for field in booleans + texts {
                guard let column = byName[field] else {
                    problems.append("\(entity): no column \(field)")
                    continue
                }
                if booleans.contains(field), column["AttributeType"] as? String != "Boolean" { problems.append("\(entity): \(field) is not Yes/No") }
                if written.contains(field), column["IsValidForUpdate"] as? Bool != true { problems.append("\(entity): \(field) cannot be written") }
            }
        }
        return problems
    }
}
