import HushCore

/// Address parsing alone: how many inputs of each kind one core reads a second.
/// `hush-bench --only=addresses`.
struct Addresses {
    func run() {
        print("\n== address parsing ==")
        let count = 400_000
        let kinds: [(String, [String], Region?)] = [
            ("E.164 phone numbers", (0..<count).map { "+1\(2012000000 + $0)" }, nil),
            ("UK national numbers with spaces", (0..<count).map { "020 7946 \(String(format: "%04d", $0 % 10_000))" }, .gb),
            ("ASCII emails", (0..<count).map { "Person\($0)@Example.com" }, nil),
            ("Unicode emails (IDN domain)", (0..<count / 10).map { "j\u{F6}rg\($0)@b\u{FC}cher.example" }, nil),
        ]
        for (label, inputs, region) in kinds {
            var keys = 0
            let time = ContinuousClock().measure {
                for input in inputs {
                    if let address = try? Address(parsing: input, region: region) { keys &+= address.normalized.utf8.count }
                }
            }
            precondition(keys > 0, "\(label): nothing parsed")
            report(label, "\(perSecond(inputs.count, time)) a second")
        }
    }
}
