/// A regular expression over ASCII digits, in the small syntax libphonenumber's metadata is
/// written in: digits, `\d`, classes such as `[2-9]`, groups `(…)` and `(?:…)`, `|`, the greedy
/// quantifiers `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`, and `$`. It matches the way Python's `re`
/// and Java's `java.util.regex` do (leftmost alternative first, greedy), so a prefix match and
/// its groups are the ones libphonenumber sees.
///
/// Matching is a backtracking machine that never visits the same (instruction, position) twice,
/// so it is linear in pattern size times input length whatever the pattern.
/// `scripts/generate-phone-metadata.py` refuses metadata that uses any other syntax, and
/// ``init(_:)`` traps on it, so a table that loads is one this type reads in full.
struct DigitPattern: Sendable {
    enum Instruction: Sendable {
        /// Consume one digit whose bit is set in the mask (bit 0 is `0`).
        case digit(UInt16)
        /// Try `preferred` first, then `alternative`.
        case split(preferred: Int, alternative: Int)
        case jump(Int)
        /// Record the position in a group slot: `2 * group` opens it, `2 * group + 1` closes it.
        case save(Int)
        case atEnd
        case match
    }

    /// Where a prefix match ended and what its capturing groups took.
    struct Match {
        let end: Int
        /// Offsets per slot (`2 * group`, `2 * group + 1`), `-1` where a group took no part.
        let slots: [Int]

        /// Group `index` (1-based) as a range of the input, or `nil` when it took no part.
        func group(_ index: Int) -> Range<Int>? {
            let start = slots[2 * index]
            let end = slots[2 * index + 1]
            return start >= 0 && end >= start ? start..<end : nil
        }
    }

    let program: [Instruction]
    let groupCount: Int
    /// The digits a match can begin with; a pattern that can match nothing has `canBeEmpty`.
    private let firstDigits: UInt16
    private let canBeEmpty: Bool

    init(_ source: String) {
        var parser = Parser(bytes: Array(source.utf8))
        let node = parser.alternation()
        precondition(parser.isAtEnd, "unsupported pattern syntax in \(source)")
        var compiler = Compiler()
        compiler.emit(node)
        compiler.program.append(.match)
        program = compiler.program
        groupCount = parser.groupCount
        (firstDigits, canBeEmpty) = Self.start(of: compiler.program)
    }

    /// Whether a match can begin with this ASCII digit.
    func canStart(with digit: UInt8) -> Bool {
        canBeEmpty || firstDigits & Self.bit(digit) != 0
    }

    /// The match anchored at the start of `digits` that `re.match` finds, or `nil`.
    func prefixMatch(_ digits: ArraySlice<UInt8>) -> Match? {
        run(digits, whole: false)
    }

    /// Whether the pattern matches all of `digits` (`re.fullmatch`).
    func matchesWhole(_ digits: ArraySlice<UInt8>) -> Bool {
        run(digits, whole: true) != nil
    }

    private func run(_ digits: ArraySlice<UInt8>, whole: Bool) -> Match? {
        if !canBeEmpty {
            guard let first = digits.first, firstDigits & Self.bit(first) != 0 else { return nil }
        }
        let start = digits.startIndex
        let width = digits.count + 1
        var visited = [UInt64](repeating: 0, count: (program.count * width + 63) / 64)
        var slots = [Int](repeating: -1, count: 2 * (groupCount + 1))
        // A job either resumes a thread at (pc, position) or, with slot >= 0, restores a slot.
        var jobs: [(pc: Int, position: Int, slot: Int, old: Int)] = [(0, 0, -1, 0)]
        while let job = jobs.popLast() {
            if job.slot >= 0 {
                slots[job.slot] = job.old
                continue
            }
            var pc = job.pc
            var position = job.position
            thread: while true {
                let state = pc * width + position
                let (word, mask) = (state / 64, UInt64(1) << UInt64(state % 64))
                if visited[word] & mask != 0 { break thread }
                visited[word] |= mask
                switch program[pc] {
                case .digit(let allowed):
                    guard position < digits.count, allowed & Self.bit(digits[start + position]) != 0 else { break thread }
                    pc += 1
                    position += 1
                case .split(let preferred, let alternative):
                    jobs.append((alternative, position, -1, 0))
                    pc = preferred
                case .jump(let target):
                    pc = target
                case .save(let slot):
                    jobs.append((0, 0, slot, slots[slot]))
                    slots[slot] = position
                    pc += 1
                case .atEnd:
                    guard position == digits.count else { break thread }
                    pc += 1
                case .match:
                    guard !whole || position == digits.count else { break thread }
                    return Match(end: position, slots: slots)
                }
            }
        }
        return nil
    }

    private static func bit(_ asciiDigit: UInt8) -> UInt16 {
        let value = asciiDigit &- UInt8(ascii: "0")
        return value < 10 ? UInt16(1) << UInt16(value) : 0
    }

    /// The digits that can come first in a match, and whether a match can be empty.
    private static func start(of program: [Instruction]) -> (UInt16, Bool) {
        var digits: UInt16 = 0
        var empty = false
        var seen = Set<Int>()
        var pending = [0]
        while let pc = pending.popLast() {
            guard seen.insert(pc).inserted else { continue }
            switch program[pc] {
            case .digit(let allowed): digits |= allowed
            case .split(let preferred, let alternative): pending += [preferred, alternative]
            case .jump(let target): pending.append(target)
            case .save: pending.append(pc + 1)
            case .atEnd, .match: empty = true
            }
        }
        return (digits, empty)
    }
}

extension DigitPattern {
    fileprivate indirect enum Node {
        case digits(UInt16)
        case sequence([Node])
        case alternation([Node])
        case group(Int?, Node)
        case repetition(Node, min: Int, max: Int?)
        case end
    }

    /// A recursive-descent reader of the syntax the type documents.
    fileprivate struct Parser {
        let bytes: [UInt8]
        var offset = 0
        var groupCount = 0

        var isAtEnd: Bool { offset == bytes.count }
        private var next: UInt8? { offset < bytes.count ? bytes[offset] : nil }

        mutating func alternation() -> Node {
            var branches = [sequence()]
            while next == UInt8(ascii: "|") {
                offset += 1
                branches.append(sequence())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        private mutating func sequence() -> Node {
            var items: [Node] = []
            while let byte = next, byte != UInt8(ascii: "|"), byte != UInt8(ascii: ")") {
                items.append(quantified(atom()))
            }
            return .sequence(items)
        }

        private mutating func atom() -> Node {
            let byte = take()
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .digits(UInt16(1) << UInt16(byte - UInt8(ascii: "0")))
            case UInt8(ascii: "\\"):
                precondition(take() == UInt8(ascii: "d"), "only \\d is supported")
                return .digits(0x3FF)
            case UInt8(ascii: "$"):
                return .end
            case UInt8(ascii: "["):
                return .digits(digitClass())
            case UInt8(ascii: "("):
                var index: Int?
                if next == UInt8(ascii: "?") {
                    offset += 1
                    precondition(take() == UInt8(ascii: ":"), "only (?: groups are supported")
                } else {
                    groupCount += 1
                    index = groupCount
                }
                let inner = alternation()
                precondition(take() == UInt8(ascii: ")"), "unbalanced group")
                return .group(index, inner)
            default:
                preconditionFailure("unsupported pattern character \(UnicodeScalar(byte))")
            }
        }

        private mutating func digitClass() -> UInt16 {
            var mask: UInt16 = 0
            while true {
                let byte = take()
                if byte == UInt8(ascii: "]") { return mask }
                if byte == UInt8(ascii: "\\") {
                    precondition(take() == UInt8(ascii: "d"), "only \\d is supported in a class")
                    mask |= 0x3FF
                    continue
                }
                let low = digit(byte)
                var high = low
                if next == UInt8(ascii: "-") {
                    offset += 1
                    high = digit(take())
                }
                for value in low...high { mask |= UInt16(1) << UInt16(value) }
            }
        }

        private mutating func quantified(_ node: Node) -> Node {
            switch next {
            case UInt8(ascii: "?"):
                offset += 1
                return .repetition(node, min: 0, max: 1)
            case UInt8(ascii: "*"):
                offset += 1
                return .repetition(node, min: 0, max: nil)
            case UInt8(ascii: "+"):
                offset += 1
                return .repetition(node, min: 1, max: nil)
            case UInt8(ascii: "{"):
                offset += 1
                let min = number()
                var max: Int? = min
                if next == UInt8(ascii: ",") {
                    offset += 1
                    max = next == UInt8(ascii: "}") ? nil : number()
                }
                precondition(take() == UInt8(ascii: "}"), "unterminated {…}")
                return .repetition(node, min: min, max: max)
            default:
                return node
            }
        }

        private mutating func number() -> Int {
            var value = 0
            while let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                offset += 1
            }
            return value
        }

        private func digit(_ byte: UInt8) -> Int {
            precondition((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), "classes hold digits only")
            return Int(byte - UInt8(ascii: "0"))
        }

        private mutating func take() -> UInt8 {
            precondition(offset < bytes.count, "pattern ends early")
            defer { offset += 1 }
            return bytes[offset]
        }
    }

    /// Turns a parsed pattern into instructions: alternatives and optional repetitions become
    /// splits that prefer the earlier branch or one more repetition, as greedy matching does.
    fileprivate struct Compiler {
        var program: [Instruction] = []

        mutating func emit(_ node: Node) {
            switch node {
            case .digits(let mask):
                program.append(.digit(mask))
            case .sequence(let items):
                for item in items { emit(item) }
            case .alternation(let branches):
                var exits: [Int] = []
                for branch in branches.dropLast() {
                    let split = program.count
                    program.append(.jump(-1))
                    emit(branch)
                    exits.append(program.count)
                    program.append(.jump(-1))
                    program[split] = .split(preferred: split + 1, alternative: program.count)
                }
                emit(branches[branches.count - 1])
                for exit in exits { program[exit] = .jump(program.count) }
            case .group(let index, let inner):
                if let index { program.append(.save(2 * index)) }
                emit(inner)
                if let index { program.append(.save(2 * index + 1)) }
            case .repetition(let inner, let min, let max):
                for _ in 0..<min { emit(inner) }
                if let max {
                    var splits: [Int] = []
                    for _ in min..<max {
                        splits.append(program.count)
                        program.append(.jump(-1))
                        emit(inner)
                    }
                    for split in splits { program[split] = .split(preferred: split + 1, alternative: program.count) }
                } else {
                    let loop = program.count
                    program.append(.jump(-1))
                    emit(inner)
                    program.append(.jump(loop))
                    program[loop] = .split(preferred: loop + 1, alternative: program.count)
                }
            case .end:
                program.append(.atEnd)
            }
        }
    }
}
