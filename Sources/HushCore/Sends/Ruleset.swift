import Foundation

/// What a sequence does with a prospect who opted out: skip the steps on the channels they left,
/// or finish them altogether. Named rulesets are shared by many sequences.
public struct Ruleset: Hashable, Sendable {
    public enum OnOptOut: String, Hashable, Sendable, CaseIterable {
        /// Steps on channels the prospect is opted out of are skipped; the rest are sent.
        case skipSteps = "skip_steps"
        /// An opt-out from any channel finishes the prospect: no further step is sent.
        case finish
    }

    public static let maximumNameLength = 100
    public static let defaultStage = "Opted Out"

    public var id: RulesetID
    public var name: String
    public var onOptOut: OnOptOut
    /// The stage a prospect moves to when they opted out during the sequence.
    public var optedOutStage: String

    public init(id: RulesetID = RulesetID(0), name: String, onOptOut: OnOptOut, optedOutStage: String = Ruleset.defaultStage) throws(HushError) {
        let name = name.trimmed
        guard !name.isEmpty, name.count <= Self.maximumNameLength else {
            throw .invalid("name", "a ruleset's name has 1 to \(Self.maximumNameLength) characters")
        }
        let stage = optedOutStage.trimmed
        guard !stage.isEmpty, stage.count <= Self.maximumNameLength else {
            throw .invalid("opted_out_stage", "a stage has 1 to \(Self.maximumNameLength) characters")
        }
        self.id = id
        self.name = name
        self.onOptOut = onOptOut
        self.optedOutStage = stage
    }
}

/// One step of a sequence and the check of the address it would go to; `decision` is nil when
/// the prospect has no address the step's channel can reach.
public struct SequenceStep: Hashable, Sendable {
    public var id: String
    public var channel: Channel
    public var dueAt: Date?
    public var decision: Decision?

    public init(id: String, channel: Channel, dueAt: Date? = nil, decision: Decision?) {
        self.id = id
        self.channel = channel
        self.dueAt = dueAt
        self.decision = decision
    }
}

/// What a ruleset makes of a prospect's steps.
public struct SequenceEvaluation: Hashable, Sendable {
    public enum Action: String, Hashable, Sendable {
        case send
        case skip
    }

    public enum Reason: String, Hashable, Sendable {
        /// The step's address is opted out of its channel.
        case optOutEmail = "optout_email"
        case optOutNumber = "optout_number"
        /// The prospect has no address on the step's channel.
        case noAddress = "no_address"
        /// The ruleset finished the prospect because of an opt-out on another channel.
        case finished
    }

    public struct StepResult: Hashable, Sendable {
        public let id: String
        public let action: Action
        public let reason: Reason?
        /// The suppressions behind the decision: the step's own, or those that finished the prospect.
        public let blockedBy: [Decision.Block]
    }

    public let steps: [StepResult]
    public let finished: Bool
    /// The ruleset's stage when the prospect opted out after enrolling; nil otherwise.
    public let stageChange: String?

    /// Applies `ruleset`. `others` are decisions for the prospect's addresses on channels no step
    /// uses: under `finish`, an opt-out from any channel counts.
    public init(_ ruleset: Ruleset, steps: [SequenceStep], others: [Decision] = [], enrolledAt: Date) {
        let blockedSteps = steps.compactMap { $0.decision }.filter { !$0.allowed }
        switch ruleset.onOptOut {
        case .skipSteps:
            self.steps = steps.map { step in
                guard let decision = step.decision else {
                    return StepResult(id: step.id, action: .skip, reason: .noAddress, blockedBy: [])
                }
                guard !decision.allowed else { return StepResult(id: step.id, action: .send, reason: nil, blockedBy: []) }
                return StepResult(id: step.id, action: .skip, reason: Self.reason(decision), blockedBy: Array(decision.blockedBy))
            }
            finished = false
            stageChange = Self.optedOutDuring(blockedSteps, after: enrolledAt) ? ruleset.optedOutStage : nil
        case .finish:
            let blocking = blockedSteps + others.filter { !$0.allowed }
            let blocks = Self.unique(blocking.flatMap(\.blockedBy))
            finished = !blocking.isEmpty
            self.steps = steps.map { step in
                if let decision = step.decision, !decision.allowed {
                    return StepResult(id: step.id, action: .skip, reason: Self.reason(decision), blockedBy: Array(decision.blockedBy))
                }
                if !blocking.isEmpty { return StepResult(id: step.id, action: .skip, reason: .finished, blockedBy: blocks) }
                guard step.decision != nil else { return StepResult(id: step.id, action: .skip, reason: .noAddress, blockedBy: []) }
                return StepResult(id: step.id, action: .send, reason: nil, blockedBy: [])
            }
            stageChange = Self.optedOutDuring(blocking, after: enrolledAt) ? ruleset.optedOutStage : nil
        }
    }

    private static func reason(_ decision: Decision) -> Reason {
        decision.address.kind == .email ? .optOutEmail : .optOutNumber
    }

    /// Whether an opt-out behind these decisions was recorded after enrolment: the prospect
    /// opted out during the sequence. An older opt-out only skips steps.
    private static func optedOutDuring(_ decisions: [Decision], after enrolledAt: Date) -> Bool {
        decisions.contains { $0.blockedBy.contains { $0.since > enrolledAt } }
    }

    private static func unique(_ blocks: [Decision.Block]) -> [Decision.Block] {
        var seen = Set<Decision.Block>()
        return blocks.filter { seen.insert($0).inserted }
    }
}
