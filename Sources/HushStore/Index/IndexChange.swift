import HushCore

/// How far the index has followed each append-only stream of the database.
struct FeedPosition: Hashable, Sendable, CustomStringConvertible {
    var ledger: Int64
    var links: Int64
    var erasures: Int64

    static let start = FeedPosition(ledger: 0, links: 0, erasures: 0)

    func isBehind(_ other: FeedPosition) -> Bool {
        ledger < other.ledger || links < other.links || erasures < other.erasures
    }

    var description: String { "ledger \(ledger), links \(links), erasures \(erasures)" }
}

/// One thing the index must apply, in the order the database recorded it.
enum IndexChange: Sendable {
    case add(IndexKey, IndexEntry)
    case remove(IndexKey, IndexEntry)
    case link(IndexKey, ContactID)
    case erase(Erasure)
    /// A list's name, given before the changes on that list, so decisions can name it.
    case name(ListID, String)

    /// An address erased in some process: its entries (known by their event sequences) and its
    /// links (known by their contacts) move from the clear key to the hashed one.
    struct Erasure: Sendable {
        let organization: OrganizationID
        let hashedKey: String
        let eventSequences: Set<Int64>
        let contacts: Set<ContactID>
    }
}

/// Changes read from the database after a position, and the position they reach.
struct ChangeBatch: Sendable {
    var changes: [IndexChange]
    var position: FeedPosition
}

/// What a backend provides so an index (`IndexedStore`) can load and follow it: the ledger,
/// contact links and erasures, each an append-only stream numbered by position.
///
/// **The ordering contract.** A position becomes visible to readers only after every lower
/// position of its stream is visible, and a visible position never changes. A follower reads
/// `position > last` and moves `last` forward; if position 102 could be read while 101 was still
/// uncommitted, a follower past 102 would skip 101 for ever, and an acknowledged opt-out would
/// never reach that node's index. SQLite keeps the contract because it has one writer at a time
/// and positions are taken inside the write transaction (`MAX(seq) + 1`). A backend with
/// concurrent writers must keep it another way: serialize appends from allocating a position
/// to commit (PostgreSQL: an advisory transaction lock, with group commit so one transaction
/// carries many opt-outs), or expose only positions below the oldest transaction still running.
/// `ChangeFeedContractTests` holds a backend to it.
protocol ChangeFeed: Sendable {
    /// The heads of the streams now.
    func head() async throws -> FeedPosition
    /// Everything after `position`, at most `limit` ledger events at a time, read in one snapshot,
    /// erasures first. An event is read under its address row's key as it is in the snapshot,
    /// which an erasure in it has made the hash: applied first, the erasure moves what earlier
    /// batches filed under the clear key before the events read with it add to either key (an
    /// opt-out made again after the erasure would otherwise merge into the old one and leave
    /// with it).
    func changes(after position: FeedPosition, limit: Int) async throws -> ChangeBatch
    /// Loads every suppression, link and list name into `index` from one consistent snapshot.
    func load(into index: SuppressionIndex) async throws -> FeedPosition
    /// The name of every list.
    func listNames() async throws -> [ListID: String]
    /// What identifies this database at `position` (`IndexSnapshot`): the schema's version, the
    /// first ledger row, and the rows at `position` in each stream (`FeedMarks.join`).
    func marks(at position: FeedPosition) async throws -> String
}

/// The one way a backend writes its marks, so that both compare alike.
enum FeedMarks {
    /// The schema's version, then the first ledger row and the rows at the position: each the
    /// backend's text of it, `-` for none.
    static func join(_ values: [String?]) -> String {
        values.map { $0 ?? "-" }.joined(separator: "|")
    }
}
