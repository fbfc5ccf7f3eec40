extension String {
    /// This string in Unicode Normalization Form C, so that `u` + U+0308 and `ü` give one key.
    ///
    /// The standard library's `_nfcCodeUnits` is underscored but public and ABI-stable; it
    /// spares HushCore a Foundation dependency for the rare non-ASCII address.
    var canonicallyComposed: String {
        String(decoding: _nfcCodeUnits, as: UTF8.self)
    }
}
