/// Runs bodies one at a time, in the order they asked, across tasks (an async mutex that does
/// not hold a thread while it waits).
public actor Turns {
    public init() {}

    private var taken = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` once every body that asked before it has finished.
    public nonisolated func take<T>(_ body: () async throws -> T) async throws -> T {
        await wait()
        do {
            let value = try await body()
            await pass()
            return value
        } catch {
            await pass()
            throw error
        }
    }

    private func wait() async {
        guard taken else {
            taken = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func pass() {
        if waiting.isEmpty {
            taken = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
