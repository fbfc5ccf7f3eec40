import Foundation
import HushCore

/// Console users, their sessions, and the display names of scopes. Rules (who may create whom,
/// password rules, expiry) live above, in the server; this keeps and finds.
public protocol ConsoleStore: Sendable {
    /// Throws `conflict` naming `email` when a user (of any organization) has the email.
    func createUser(email: String, role: Role, passwordHash: String, in organization: OrganizationID, at date: Date) async throws -> ConsoleUser
    /// Every user of the organization, disabled ones too, oldest first.
    func users(in organization: OrganizationID) async throws -> [ConsoleUser]
    func user(_ id: ConsoleUserID, in organization: OrganizationID) async throws -> ConsoleUser?
    /// The user with the email and its password hash, for signing in.
    func userForSignIn(email: String) async throws -> (user: ConsoleUser, passwordHash: String)?
    /// Disables the user and ends its sessions in one transaction; false when there is no such
    /// user or it was disabled already.
    func disableUser(_ id: ConsoleUserID, in organization: OrganizationID, at date: Date) async throws -> Bool

    /// Records a new session and the user's sign-in time.
    func createSession(_ session: ConsoleSession) async throws
    /// The session and its user when the session has not expired at `date` and the user is
    /// not disabled.
    func session(tokenHash: String, at date: Date) async throws -> (session: ConsoleSession, user: ConsoleUser)?
    func extendSession(tokenHash: String, until: Date) async throws
    func endSession(tokenHash: String) async throws
    /// Removes sessions that expired before `date`; returns how many.
    func pruneSessions(expiredBefore date: Date) async throws -> Int

    /// Names a scope for people to read (nil removes the name).
    func nameScope(_ scope: Scope, _ name: String?, in organization: OrganizationID) async throws
    func scopeNames(in organization: OrganizationID) async throws -> [Scope: String]

    /// Ledger events per UTC day (days since 1970) from `firstDay` on, by kind, channel and
    /// source: counters kept in each append's transaction.
    func dailyEvents(in organization: OrganizationID, from firstDay: Int64) async throws -> [DailyEvents]
    /// Suppressions in force per list and channel: counters kept in each change's transaction.
    func suppressionCounts(in organization: OrganizationID) async throws -> [SuppressionCount]
}

public struct DailyEvents: Sendable, Hashable {
    public let day: Int64
    public let kind: String
    public let channel: String
    public let source: String
    public let events: Int

    public init(day: Int64, kind: String, channel: String, source: String, events: Int) {
        self.day = day
        self.kind = kind
        self.channel = channel
        self.source = source
        self.events = events
    }
}

public struct SuppressionCount: Sendable, Hashable {
    public let list: ListID
    public let channel: String
    public let suppressions: Int

    public init(list: ListID, channel: String, suppressions: Int) {
        self.list = list
        self.channel = channel
        self.suppressions = suppressions
    }
}
