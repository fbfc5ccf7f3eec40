/// The Unicode data UTS 46 and IDNA 2008 processing needs, parsed once, on first use, from the
/// generated text in `IDNATables+Generated.swift` (see `scripts/generate-idna-tables.py`).
enum IDNATables {
    /// What UTS 46 does with a code point.
    enum Status: Sendable {
        case valid, mapped([Unicode.Scalar]), ignored, disallowed
    }

    static let mapping: CodePointRuns<Status> = CodePointRuns(mappingSource) { fields in
        switch fields.first {
        case "V", "D": .valid
        case "I": .ignored
        case "M": .mapped(scalars(fields[1]))
        case "3": fields.count > 1 ? .mapped(scalars(fields[1])) : .valid
        default: .disallowed
        }
    }
    static let pvalid = CodePointRanges(pvalidSource)
    static let contextJ = CodePointRanges(contextjSource)
    static let contextO = CodePointRanges(contextoSource)
    static let greek = CodePointRanges(greekSource)
    static let hebrew = CodePointRanges(hebrewSource)
    static let japanese = [CodePointRanges(hiraganaSource), CodePointRanges(katakanaSource), CodePointRanges(hanSource)]
    static let joiningTypes: CodePointRuns<Substring> = CodePointRuns(joiningSource) { $0.first ?? "" }
    static let bidiClasses: CodePointRuns<Substring> = CodePointRuns(bidiSource) { $0.first ?? "" }
    static let folding: [UInt32: [Unicode.Scalar]] = {
        var table: [UInt32: [Unicode.Scalar]] = [:]
        for entry in foldingSource.split(separator: " ") {
            let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
            table[UInt32(fields[0], radix: 16)!] = scalars(fields[1])
        }
        return table
    }()

    /// `61,62` → `ab`.
    static func scalars(_ hex: Substring) -> [Unicode.Scalar] {
        hex.split(separator: ",").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
    }
}

/// Code point ranges written `41-5A 61`, searched by bisection.
struct CodePointRanges: Sendable {
    private let firsts: [UInt32]
    private let lasts: [UInt32]

    init(_ source: String) {
        var firsts: [UInt32] = []
        var lasts: [UInt32] = []
        for range in source.split(separator: " ") {
            let bounds = range.split(separator: "-")
            firsts.append(UInt32(bounds[0], radix: 16)!)
            lasts.append(UInt32(bounds[bounds.count - 1], radix: 16)!)
        }
        self.firsts = firsts
        self.lasts = lasts
    }

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        let index = firsts.lastIndex(atOrBelow: scalar.value)
        return index.map { lasts[$0] >= scalar.value } ?? false
    }
}

/// Values over runs of code points written `start:field[:field]`, each run lasting until the next.
struct CodePointRuns<Value: Sendable>: Sendable {
    private let starts: [UInt32]
    private let values: [Value]

    init(_ source: String, value: ([Substring]) -> Value) {
        var starts: [UInt32] = []
        var values: [Value] = []
        for run in source.split(separator: " ") {
            let fields = run.split(separator: ":", omittingEmptySubsequences: false)
            starts.append(UInt32(fields[0], radix: 16)!)
            values.append(value(Array(fields.dropFirst())))
        }
        self.starts = starts
        self.values = values
    }

    subscript(scalar: Unicode.Scalar) -> Value {
        values[starts.lastIndex(atOrBelow: scalar.value) ?? 0]
    }
}

extension Array where Element == UInt32 {
    /// The index of the last element at or below `value` in this sorted array, if any.
    fileprivate func lastIndex(atOrBelow value: UInt32) -> Int? {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] <= value { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : low - 1
    }
}
