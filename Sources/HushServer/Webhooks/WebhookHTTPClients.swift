import AsyncHTTPClient
import HushCore

/// The webhook sender's HTTP clients, which connect to the address `WebhookTarget` checked
/// rather than resolving the host again (a DNS rebinding window otherwise).
///
/// AsyncHTTPClient 1.37 connects to a chosen address only through
/// `HTTPClient.Configuration.dnsOverride` (host name to address; the Host header, TLS server name
/// and certificate check keep the host name), and a client's configuration is fixed when it is
/// made: there is no per-request override. So each host and pinned address gets a client of its
/// own, kept after its batch so that the next batch reuses its connections; beyond `capacity`,
/// the least recently used idle clients are shut down. When nothing is pinned (private targets
/// allowed) every request goes through one shared client. For a host that is itself an
/// address, the override names that same address, or does not apply.
actor WebhookHTTPClients {
    private struct Key: Hashable {
        let host: String
        let address: IPAddress
    }

    private struct Entry {
        let client: HTTPClient
        var users: Int
        var lastUsed: Int
    }

    /// For destinations with no pinned address.
    nonisolated let shared: HTTPClient
    private let configuration: HTTPClient.Configuration
    private let capacity: Int
    private var pinned: [Key: Entry] = [:]
    private var uses = 0
    private var isShutDown = false

    init(configuration: HTTPClient.Configuration, capacity: Int = 64) {
        self.configuration = configuration
        self.capacity = capacity
        shared = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Runs `body` with the client that connects to `address` whatever `host` resolves to, or with
    /// the shared client when there is no address.
    nonisolated func withClient<Result>(host: String, pinnedTo address: IPAddress?, _ body: (HTTPClient) async -> Result) async -> Result {
        guard let address else { return await body(shared) }
        let key = Key(host: host, address: address)
        let client = await checkOut(key)
        let result = await body(client)
        await checkIn(key)
        return result
    }

    /// Shuts every client down; requests made afterwards fail with `HTTPClientError.alreadyShutdown`.
    func shutdown() async throws {
        isShutDown = true
        let clients = pinned.values.map(\.client)
        pinned = [:]
        for client in clients { try? await client.shutdown() }
        try await shared.shutdown()
    }

    private func checkOut(_ key: Key) -> HTTPClient {
        guard !isShutDown else { return shared }
        uses += 1
        if var entry = pinned[key] {
            entry.users += 1
            entry.lastUsed = uses
            pinned[key] = entry
            return entry.client
        }
        var configuration = configuration
        configuration.dnsOverride = [key.host: key.address.description]
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        pinned[key] = Entry(client: client, users: 1, lastUsed: uses)
        return client
    }

    private func checkIn(_ key: Key) async {
        guard var entry = pinned[key] else { return }
        entry.users -= 1
        pinned[key] = entry
        var retired: [HTTPClient] = []
        while pinned.count > capacity,
              let oldest = pinned.filter({ $0.value.users == 0 }).min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            pinned[oldest.key] = nil
            retired.append(oldest.value.client)
        }
        // The map is settled before the first wait, so other batches may come and go meanwhile.
        for client in retired { try? await client.shutdown() }
    }
}
