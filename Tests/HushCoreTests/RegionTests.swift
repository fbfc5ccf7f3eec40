import Testing

@testable import HushCore

@Test(arguments: [("gb", Region.gb), ("GB", Region.gb), ("Us", Region.us), ("in", Region.in), ("za", Region.za)])
func regionIsFoundByCodeInAnyCase(code: String, region: Region) {
    #expect(Region(code: code) == region)
}

@Test(arguments: ["XX", "", "G", "GBR", "001", "UK"])
func unsupportedRegionCodeGivesNil(code: String) {
    #expect(Region(code: code) == nil)
}

@Test func rawValueIsTheUppercaseCodeOnly() {
    #expect(Region(rawValue: "DE") == .de)
    #expect(Region(rawValue: "de") == nil)
}

@Test(arguments: Region.supported)
func everySupportedRegionRoundTripsThroughItsCode(region: Region) {
    #expect(Region(rawValue: region.rawValue) == region)
    #expect(region.rawValue == region.rawValue.uppercased())
    #expect(region.rawValue.utf8.count == 2)
}

@Test func everyRegionOfLibphonenumbersMetadataIsSupported() {
    #expect(Region.supported.count == 245)
    #expect(PhoneMetadata.version == "9.0.43")
    for code in ["JP", "NU", "SH", "AG", "VA", "AX", "XK"] {
        #expect(Region(code: code) != nil, "\(code)")
    }
}

@Test(arguments: [
    (Region.us, "1"), (.ca, "1"), (.gb, "44"), (.de, "49"), (.fr, "33"), (.in, "91"), (.au, "61"),
    (.br, "55"), (.mx, "52"), (.es, "34"), (.it, "39"), (.nl, "31"), (.za, "27"), (Region(code: "NU")!, "683"),
])
func regionKnowsItsCallingCode(region: Region, callingCode: String) {
    #expect(region.callingCode == callingCode)
}
