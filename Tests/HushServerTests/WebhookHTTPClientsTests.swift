import AsyncHTTPClient
import HushCore
import HushTestSupport
import NIOCore
import Testing
@testable import HushServer

/// The sender's clients connect to the checked address, never resolving the name again.
@Suite(.everyBackend) struct WebhookHTTPClientsTests {
    static func post(_ url: String, with client: HTTPClient) async -> Result<Int, any Error> {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: "{}"))
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            return .success(Int(response.status.code))
        } catch {
            return .failure(error)
        }
    }

    @Test func aPinnedClientReachesTheCheckedAddressForANameThatDoesNotResolve() async throws {
        let receiver = try await WebhookReceiver.start()
        let port = await receiver.port
        let clients = WebhookHTTPClients(configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
        let loopback = IPAddress(127, 0, 0, 1)

        let sent = await clients.withClient(host: "hooks.invalid", pinnedTo: loopback) { client in
            await Self.post("http://hooks.invalid:\(port)/pinned", with: client)
        }

        try await clients.shutdown()
        await receiver.stop()
        #expect(try sent.get() == 200)
        #expect(await receiver.received.map(\.path) == ["/pinned"])
    }

    @Test func idleClientsBeyondCapacityAreShutDownButOneInUseIsNot() async throws {
        let receiver = try await WebhookReceiver.start()
        let port = await receiver.port
        let clients = WebhookHTTPClients(configuration: HTTPClient.Configuration(redirectConfiguration: .disallow), capacity: 1)
        let loopback = IPAddress(127, 0, 0, 1)

        let (first, second) = await clients.withClient(host: "first.invalid", pinnedTo: loopback) { first in
            // Given back while the first is in use: the only idle client, one over capacity.
            let second = await clients.withClient(host: "second.invalid", pinnedTo: loopback) { $0 }
            return (await Self.post("http://first.invalid:\(port)/first", with: first),
                    await Self.post("http://second.invalid:\(port)/second", with: second))
        }

        try await clients.shutdown()
        await receiver.stop()
        #expect(try first.get() == 200)
        #expect(throws: HTTPClientError.alreadyShutdown) { try second.get() }
        #expect(await receiver.received.map(\.path) == ["/first"])
    }
}
