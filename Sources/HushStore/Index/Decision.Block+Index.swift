import Foundation
import HushCore

extension Decision.Block {
    /// A block from what the index keeps: `since` in milliseconds.
    @inline(__always)
    init(
        list: ListID, listName: String, scope: Scope, channel: ChannelSelection, sinceMilliseconds: Int64, source: Source,
        eventSequence: Int64, contact: ContactID?, hold: Bool
    ) {
        self.init(
            list: list, listName: listName, scope: scope, channel: channel,
            since: Date(timeIntervalSince1970: Double(sinceMilliseconds) / 1000), source: source,
            eventSequence: eventSequence, contact: contact, hold: hold)
    }
}
