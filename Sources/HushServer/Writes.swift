import Foundation
import HushCore

// What the write endpoints share: their results and the evidence and consent they take.

struct OptOutOutput: Encodable, Sendable {
    let suppressions: [SuppressionJSON]
    let events: [EventJSON]
    /// The ledger position the answering node has applied (see `ReadYourWrites`); only on a
    /// whole answer, not on each result of a batch.
    var sequence: Int64?

    init(_ outcome: OptOutOutcome) {
        suppressions = outcome.suppressions.map(SuppressionJSON.init)
        events = outcome.events.map(EventJSON.init)
    }

    init(_ outcome: OptOutOutcome, sequence: Int64) {
        self.init(outcome)
        self.sequence = sequence
    }
}

struct OptOutsOutput: Encodable, Sendable {
    let results: [OptOutOutput]
    let sequence: Int64
}

struct OptInOutput: Encodable, Sendable {
    @NullEncoded var lifted: SuppressionJSON?
    @NullEncoded var event: EventJSON?
    var sequence: Int64?

    init(_ outcome: OptInOutcome) {
        lifted = outcome.lifted.map(SuppressionJSON.init)
        event = outcome.event.map(EventJSON.init)
    }

    init(_ outcome: OptInOutcome, sequence: Int64) {
        self.init(outcome)
        self.sequence = sequence
    }

    enum CodingKeys: String, CodingKey {
        case lifted, event, sequence
    }
}

struct ConsentInput: APIInput {
    static let fields: Set<String> = ["kind", "reference", "note"]
    let kind: String
    let reference: String
    let note: String?

    init(from decoder: any Decoder) throws {
        try Self.rejectUnknownFields(in: decoder)
        let container = try decoder.container(keyedBy: AnyKey.self)
        kind = try container.decodeIfPresent(String.self, forKey: AnyKey("kind")) ?? ""
        reference = try container.decodeIfPresent(String.self, forKey: AnyKey("reference")) ?? ""
        note = try container.decodeIfPresent(String.self, forKey: AnyKey("note"))
    }
}

extension Optional<ConsentInput> {
    /// The consent an opt-in carries: 422 when absent.
    func consent() throws -> Consent {
        guard let given = self else {
            throw HushError(.evidenceRequired, field: "evidence", "an opt-in needs evidence: {kind, reference, note?}")
        }
        return try Consent(kind: given.kind, reference: given.reference, note: given.note)
    }
}

enum WriteEvidence {
    static let maximumReasonLength = 300

    /// The evidence of an opt-out, with its `reason` folded in, within the size limit.
    static func validated(_ evidence: Evidence?, reason: String?) throws -> Evidence {
        var evidence = evidence ?? Evidence()
        if let reason {
            guard reason.count <= maximumReasonLength else {
                throw Problem.invalid("reason", "reason is longer than \(maximumReasonLength) characters")
            }
            evidence.fields["reason"] = .string(reason)
        }
        guard (try? JSONCoding.encoder.encode(evidence).count).map({ $0 <= Evidence.maximumEncodedSize }) ?? false else {
            throw Problem.invalid("evidence", "evidence is larger than \(Evidence.maximumEncodedSize) bytes")
        }
        return evidence
    }
}
