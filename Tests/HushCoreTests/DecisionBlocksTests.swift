import Foundation
import Testing

@testable import HushCore

/// `Decision.Blocks`: one block inline, more in an array, alike to a caller either way.
@Suite struct DecisionBlocksTests {
    static func block(_ sequence: Int64) -> Decision.Block {
        Decision.Block(
            list: ListID(rawValue: 1), listName: "default", scope: .organization, channel: .all,
            since: Date(timeIntervalSince1970: 1_700_000_000), source: .api, eventSequence: sequence)
    }

    @Test func blocksAppendedOneByOneReadAsTheArrayTheyWereAppendedFrom() {
        let all = (1...4).map { Self.block($0) }
        for count in 0...all.count {
            var blocks = Decision.Blocks()
            for block in all.prefix(count) { blocks.append(block) }
            #expect(Array(blocks) == Array(all.prefix(count)))
            #expect(blocks.count == count)
            #expect(blocks.isEmpty == (count == 0))
            #expect(blocks.map(\.eventSequence) == all.prefix(count).map(\.eventSequence))
            #expect(blocks == Decision.Blocks(all.prefix(count)))
            #expect(blocks.description == Array(all.prefix(count)).description)
        }
    }

    @Test func equalBlocksHashAlikeAndUnequalOnesDiffer() {
        let one: Decision.Blocks = [Self.block(1)]
        var appended = Decision.Blocks()
        appended.append(Self.block(1))
        #expect(one == appended)
        #expect(one.hashValue == appended.hashValue)
        #expect(one != [Self.block(2)])
        #expect(one != [Self.block(1), Self.block(2)])
        #expect(Set([one, appended, [], [Self.block(1), Self.block(2)]]).count == 3)
    }

    @Test func aDecisionMadeFromAnArrayHasTheSameBlocks() throws {
        let address = try Address(parsing: "ann@example.com")
        let blocks = [Self.block(1), Self.block(2)]
        let decision = Decision(address: address, channel: .email, scope: .organization, blockedBy: blocks)
        #expect(Array(decision.blockedBy) == blocks)
        #expect(!decision.allowed)
        #expect(Decision(address: address, channel: .email, scope: .organization, blockedBy: []).allowed)
    }
}
