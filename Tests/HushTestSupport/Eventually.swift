/// Waits until `condition` holds, looking again every few milliseconds; false when it never did
/// within `limit`. For state another task writes after a signal the test saw (a delivery's
/// attempt recorded after its request arrived). The limit only stops a test that would never
/// pass: it is minutes, never a guess at how fast the machine is.
public func eventually(limit: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

import HushStore

/// Runs the store's service (it follows other processes' writes, as inside `hush serve`) until
/// `condition` holds; false when it never did within `limit`.
public func following(_ store: any Store, limit: Duration = .seconds(60), until condition: () throws -> Bool) async throws -> Bool {
    try await withThrowingTaskGroup { group in
        group.addTask { try await store.run() }
        defer { group.cancelAll() }
        return try await eventually(limit: limit) { try condition() }
    }
}
