extension Address {
    /// Rebuilds an address that was parsed before and stored; it is not parsed again (a phone
    /// number's national input needs the region it was read in).
    public init(normalized: String, kind: Kind, input: String) {
        self.kind = kind
        self.normalized = normalized
        self.given = input.utf8.elementsEqual(normalized.utf8) ? nil : input
    }
}
