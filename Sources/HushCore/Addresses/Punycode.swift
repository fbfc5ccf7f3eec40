/// RFC 3492 Punycode, and the IDNA step that turns an internationalized domain into the ASCII
/// form Hush stores (`münchen.de` → `xn--mnchen-3ya.de`).
public enum Punycode {
    private static let base = 36
    private static let tMin = 1
    private static let tMax = 26
    private static let skew = 38
    private static let damp = 700
    private static let initialBias = 72
    private static let initialN = 0x80
    private static let delimiter = UInt8(ascii: "-")

    /// Encodes code points as Punycode, keeping basic (ASCII) code points as they are, case
    /// included: `Pročprostěnemluvíčesky` → `Proprostnemluvesky-uyb24dma41a`.
    public static func encode(_ unicodeScalars: some Sequence<Unicode.Scalar>) throws(HushError) -> String {
        let input = unicodeScalars.map { Int($0.value) }
        var output = input.filter { $0 < initialN }.map { UInt8(truncatingIfNeeded: $0) }
        let basicCount = output.count
        if basicCount > 0 { output.append(delimiter) }

        var n = initialN
        var delta = 0
        var bias = initialBias
        var handled = basicCount
        while handled < input.count {
            // The smallest code point not yet handled; one exists because handled < count.
            var m = Int.max
            for codePoint in input where codePoint >= n && codePoint < m { m = codePoint }
            delta = try checked(delta, plus: (m - n), times: handled + 1)
            n = m
            for codePoint in input {
                if codePoint < n { delta = try checked(delta, plus: 1, times: 1) }
                guard codePoint == n else { continue }
                var q = delta
                var k = base
                while true {
                    let t = threshold(k, bias: bias)
                    if q < t { break }
                    output.append(digit(t + (q - t) % (base - t)))
                    q = (q - t) / (base - t)
                    k += base
                }
                output.append(digit(q))
                bias = adapt(delta, count: handled + 1, isFirst: handled == basicCount)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes Punycode (without any `xn--` prefix) back to the string it encodes; digits are
    /// read in either case.
    public static func decode(_ punycode: String) throws(HushError) -> String {
        let input = Array(punycode.utf8)
        guard input.allSatisfy({ $0 < 0x80 }) else {
            throw invalid(punycode, "it contains a non-ASCII character")
        }
        let basicEnd = input.lastIndex(of: delimiter)
        var output = input[..<(basicEnd ?? 0)].map { Unicode.Scalar($0) }
        var position = basicEnd.map { $0 + 1 } ?? 0

        var n = initialN
        var i = 0
        var bias = initialBias
        while position < input.count {
            let oldI = i
            var weight = 1
            var k = base
            while true {
                guard position < input.count else { throw invalid(punycode, "it ends in the middle of a number") }
                guard let value = digitValue(input[position]) else {
                    throw invalid(punycode, "\(Unicode.Scalar(input[position]).nameForMessage) is not a Punycode digit")
                }
                position += 1
                i = try checked(i, plus: value, times: weight, in: punycode)
                let t = threshold(k, bias: bias)
                if value < t { break }
                weight = try checked(0, plus: weight, times: base - t, in: punycode)
                k += base
            }
            let length = output.count + 1
            bias = adapt(i - oldI, count: length, isFirst: oldI == 0)
            n = try checked(n, plus: i / length, times: 1, in: punycode)
            i %= length
            guard n >= initialN, let scalar = UInt32(exactly: n).flatMap(Unicode.Scalar.init) else {
                throw invalid(punycode, "it encodes a code point that is not allowed")
            }
            output.insert(scalar, at: i)
            i += 1
        }
        var result = ""
        result.unicodeScalars.append(contentsOf: output)
        return result
    }

    /// The bias adaptation function of RFC 3492 section 6.1.
    private static func adapt(_ delta: Int, count: Int, isFirst: Bool) -> Int {
        var delta = isFirst ? delta / damp : delta / 2
        delta += delta / count
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    private static func threshold(_ k: Int, bias: Int) -> Int {
        if k <= bias { return tMin }
        if k >= bias + tMax { return tMax }
        return k - bias
    }

    private static func digit(_ value: Int) -> UInt8 {
        value < 26
            ? UInt8(ascii: "a") + UInt8(truncatingIfNeeded: value)
            : UInt8(ascii: "0") + UInt8(truncatingIfNeeded: value - 26)
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): Int(byte - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): Int(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0")) + 26
        default: nil
        }
    }

    /// `value + addend * factor`, failing instead of overflowing on hostile input.
    private static func checked(
        _ value: Int, plus addend: Int, times factor: Int, in punycode: String? = nil
    ) throws(HushError) -> Int {
        let (product, productOverflow) = addend.multipliedReportingOverflow(by: factor)
        let (sum, sumOverflow) = value.addingReportingOverflow(product)
        guard !productOverflow, !sumOverflow else {
            if let punycode { throw invalid(punycode, "its numbers overflow") }
            throw HushError.invalid("address", "the label is too long to encode as Punycode")
        }
        return sum
    }

    private static func invalid(_ punycode: String, _ reason: String) -> HushError {
        HushError.invalid("address", "\"\(punycode)\" is not valid Punycode: \(reason)")
    }
}
