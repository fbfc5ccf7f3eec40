import HushCore

/// Runs `body`, passing domain errors (`HushError`, a group's `RequestFailed`) unchanged and
/// turning any other into what the backend's `failure` makes of it: the one rule both backends'
/// `storageErrors` follow.
func passingDomainErrors<T>(_ body: () async throws -> T, failure: (any Error) -> any Error) async throws -> T {
    do {
        return try await body()
    } catch let error as HushError {
        throw error
    } catch let error as GroupCommit.RequestFailed {
        throw error
    } catch {
        throw failure(error)
    }
}

extension HushError {
    /// A database failure nothing more is known of; its text goes to the log only.
    static func storageFailure(_ error: any Error) -> HushError {
        HushError(.storage, "the database failed and nothing was applied", underlying: String(reflecting: error))
    }
}
