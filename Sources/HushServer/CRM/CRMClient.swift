import AsyncHTTPClient
import Foundation
import HushCore
import NIOCore
import NIOHTTP1
import Synchronization

/// A CRM record as one read returned it.
struct CRMRow: Sendable {
    var key: CRMRecordKey
    /// The ETag (Dynamics) or `SystemModstamp` (Salesforce).
    var version: String?
    var booleans: [String: Bool] = [:]
    var texts: [String: String] = [:]
    var modifiedBy: String?
    var modifiedOn: String?
    var deleted = false
}

/// One page of a read: its rows, then either the next page or, after the last, the position
/// to read from next time (a delta link, a timestamp).
struct CRMPage: Sendable {
    var rows: [CRMRow]
    var next: String?
    var position: String?
}

/// Values to write to one record, at the version last read (Dynamics sends it as `If-Match`).
struct CRMWrite: Sendable {
    var key: CRMRecordKey
    var version: String?
    var fields: [String: Bool]
}

enum CRMWriteResult: Sendable {
    case written(version: String?)
    /// The record changed since `version` (412): read it again and decide again.
    case stale
    case failed(code: String, message: String)
    /// The CRM refused the write for now (a 429, a spent daily limit): still due.
    case throttled(CRMFailure)
}

/// What a CRM answered instead of data, the vendor's code verbatim.
enum CRMFailure: Error, Sendable {
    case throttled(retryAfter: Duration?, code: String, message: String)
    case authFailed(code: String, message: String)
    /// The delta token (or read position) is too old: read everything again.
    case expiredPosition
    case vendor(status: Int, code: String, message: String)
    case unreachable(message: String)

    var code: String {
        switch self {
        case .throttled(_, let code, _), .authFailed(let code, _), .vendor(_, let code, _): code
        case .expiredPosition: "expired_position"
        case .unreachable: "unreachable"
        }
    }

    var message: String {
        switch self {
        case .throttled(_, _, let message), .authFailed(_, let message), .vendor(_, _, let message), .unreachable(let message): message
        case .expiredPosition: "the read position expired; a full sync follows"
        }
    }
}

/// One CRM's API as a connector uses it. A client holds its access token between calls.
protocol CRMClient: Sendable {
    /// The CRM user Hush acts as: its changes are Hush's own coming back.
    func integrationUser() async throws -> String
    /// Reads one page of `entity`'s records: the next page of a read under way (`page`), or the
    /// first page of the records changed after `position` (nil: every live record).
    func read(entity: String, fields: [String], after position: String?, page: String?) async throws -> CRMPage
    /// Reads the records again (after a write found them changed).
    func read(_ keys: [CRMRecordKey], fields: [String]) async throws -> [CRMRow]
    /// Writes the values, batched as the CRM allows; one result per write, in order.
    func write(_ writes: [CRMWrite]) async throws -> [CRMWriteResult]
    /// Checks that each field exists on each entity, is a Boolean and writable (when written),
    /// and that the entity's changes can be followed. Problems in words; empty when all is well.
    func test(entities: [String], booleans: [String], written: Set<String>, texts: [String]) async throws -> [String]
    /// The CRM's count of API calls against its allowance, from its last answer since the last
    /// time this was asked (Salesforce's `Sforce-Limit-Info`); nil when it gave none.
    func apiUsage() async -> String?
}

extension CRMClient {
    func apiUsage() async -> String? { nil }
}

/// HTTP for CRM clients: every URL goes through the same target check as webhooks (public hosts
/// only unless private targets are allowed), connecting to the address that was checked.
struct CRMHTTP: Sendable {
    let clients: LazyHTTPClients
    let allowPrivateTargets: Bool
    let timeout: Duration

    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
    }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> Answer {
        let destination: WebhookDestination
        do {
            destination = try await WebhookTarget.destination(for: url, allowPrivate: allowPrivateTargets, field: "instance_url")
        } catch {
            throw CRMFailure.unreachable(message: error.message)
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let timeout = self.timeout
        return try await clients.get().withClient(host: destination.host, pinnedTo: destination.pinnedAddress) { client -> Result<Answer, CRMFailure> in
            do {
                let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
                let bytes = try await response.body.collect(upTo: 64 << 20)
                return .success(Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer: bytes)))
            } catch {
                return .failure(CRMFailure.unreachable(message: "\(error)"))
            }
        }.get()
    }
}

/// A form body (`application/x-www-form-urlencoded`).
func formEncoded(_ fields: [(String, String)]) -> [UInt8] {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let text = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    return Array(text.utf8)
}

/// HTTP clients made on first use (a server that never syncs a CRM makes none), shut down once
/// by the connector service when the server stops.
final class LazyHTTPClients: Sendable {
    private let made = Mutex<WebhookHTTPClients?>(nil)
    private let configuration: HTTPClient.Configuration

    init(timeout: Duration) {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(min(5, timeout.components.seconds + 1)))
        self.configuration = configuration
    }

    func get() -> WebhookHTTPClients {
        made.withLock { made in
            if let made { return made }
            let clients = WebhookHTTPClients(configuration: configuration, capacity: 16)
            made = clients
            return clients
        }
    }

    func shutdown() async {
        let clients = made.withLock { made in
            defer { made = nil }
            return made
        }
        try? await clients?.shutdown()
    }
}
