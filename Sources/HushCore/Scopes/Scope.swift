/// Who sends, as a path inside an organization: `""` is the whole organization, `news` a
/// client or brand, `news/alice` a user or rep. An opt-out at a scope covers it and every scope
/// below it.
public struct Scope: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maximumDepth = 8
    public static let maximumSegmentLength = 64

    /// The whole organization.
    public static let organization = Scope(validatedPath: "")

    /// The normalized path: segments joined by `/`, empty for the organization.
    public let path: String

    private init(validatedPath: String) {
        self.path = validatedPath
    }

    /// Parses a path such as `acme-news/alice`. Segments are 1–64 characters of `[a-z0-9._-]`;
    /// at most 8 of them. Leading and trailing slashes are not allowed.
    public init(parsing input: String) throws(HushError) {
        if input.isEmpty {
            self = .organization
            return
        }
        var depth = 1
        var segmentLength = 0
        for byte in input.utf8 {
            if byte == UInt8(ascii: "/") {
                guard segmentLength > 0 else {
                    throw .invalid("scope", "\"\(input)\" has an empty segment; write segments separated by single slashes, like \"brand/rep\"")
                }
                depth += 1
                segmentLength = 0
                continue
            }
            guard Self.isSegmentByte(byte) else {
                throw .invalid("scope", "\"\(input)\" may only contain a-z, 0-9, '.', '_', '-' and '/' between segments")
            }
            segmentLength += 1
            guard segmentLength <= Self.maximumSegmentLength else {
                throw .invalid("scope", "a segment of \"\(input)\" is longer than \(Self.maximumSegmentLength) characters")
            }
        }
        guard segmentLength > 0 else {
            throw .invalid("scope", "\"\(input)\" ends with a slash; remove it")
        }
        guard depth <= Self.maximumDepth else {
            throw .invalid("scope", "\"\(input)\" is \(depth) levels deep; scopes have at most \(Self.maximumDepth)")
        }
        self.path = input
    }

    public var isOrganization: Bool { path.isEmpty }

    public var segments: [Substring] {
        path.isEmpty ? [] : path.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// The scope directly above (`brand` for `brand/rep`, the organization for `brand`); nil for
    /// the organization itself.
    public var parent: Scope? {
        guard !path.isEmpty else { return nil }
        return selfAndAncestors[1]
    }

    /// The scope itself and every scope above it, nearest first, ending with the organization.
    public var selfAndAncestors: [Scope] {
        var result = [self]
        var current = path[...]
        while let slash = current.lastIndex(of: "/") {
            current = current[..<slash]
            result.append(Scope(validatedPath: String(current)))
        }
        if !path.isEmpty { result.append(.organization) }
        return result
    }

    /// Whether an opt-out recorded at `self` covers a send made at `other`: true when `self`
    /// is `other` or one of its ancestors.
    @inlinable
    public func covers(_ other: Scope) -> Bool {
        if path.isEmpty || path == other.path { return true }
        guard other.path.utf8.count > path.utf8.count, other.path.hasPrefix(path) else { return false }
        let boundary = other.path.utf8.index(other.path.utf8.startIndex, offsetBy: path.utf8.count)
        return other.path.utf8[boundary] == UInt8(ascii: "/")
    }

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.path < rhs.path }

    public var description: String { path.isEmpty ? "(organization)" : path }

    private static func isSegmentByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
