import Testing
@testable import HushStore
import HushCore

@Suite struct TurnsTests {
    actor Inside {
        private(set) var now = 0
        private(set) var most = 0
        func enter() { now += 1; most = max(most, now) }
        func leave() { now -= 1 }
    }

    struct Failed: Error {}

    @Test func bodiesRunOneAtATimeAndAFailurePassesTheTurnOn() async throws {
        let turns = Turns()
        let inside = Inside()
        let ran = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<20 {
                group.addTask {
                    do {
                        return try await turns.take {
                            await inside.enter()
                            for _ in 0..<10 { await Task.yield() }
                            await inside.leave()
                            if i.isMultiple(of: 5) { throw Failed() }
                            return true
                        }
                    } catch is Failed {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(ran.count == 20)
        #expect(ran.filter { $0 }.count == 16, "every body ran, the failing ones too")
        #expect(await inside.most == 1)
    }
}
