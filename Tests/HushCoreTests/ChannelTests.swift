import Testing

@testable import HushCore

@Test(arguments: [
    (Channel.email, Address.Kind.email),
    (Channel.sms, Address.Kind.phone),
    (Channel.whatsapp, Address.Kind.phone),
    (Channel.voice, Address.Kind.phone),
])
func channelSendsToItsKindOfAddress(channel: Channel, kind: Address.Kind) {
    #expect(channel.addressKind == kind)
}

@Test(arguments: Channel.allCases)
func channelParsesFromItsName(channel: Channel) throws {
    #expect(try Channel(parsing: channel.rawValue) == channel)
}

@Test(arguments: ["fax", "all", "SMS", " sms", ""])
func unknownChannelIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try Channel(parsing: input) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "channel")
}

@Test func channelErrorNamesTheCallersField() throws {
    let error = try #require(throws: HushError.self) { try Channel(parsing: "fax", field: "channels[2]") }
    #expect(error.field == "channels[2]")
}

@Test func allSelectsEveryChannel() throws {
    #expect(try ChannelSelection(parsing: "all") == .all)
}

@Test(arguments: Channel.allCases)
func channelNameSelectsOnlyThatChannel(channel: Channel) throws {
    #expect(try ChannelSelection(parsing: channel.rawValue) == .only(channel))
}

@Test(arguments: ["fax", "ALL", "Email", " all", ""])
func unknownChannelSelectionIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try ChannelSelection(parsing: input) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "channel")
}

@Test func channelSelectionErrorNamesTheCallersField() throws {
    let error = try #require(throws: HushError.self) { try ChannelSelection(parsing: "fax", field: "opt_out.channel") }
    #expect(error.field == "opt_out.channel")
}

@Test(arguments: [ChannelSelection.all] + Channel.allCases.map(ChannelSelection.only))
func channelSelectionRoundTripsThroughItsRawValue(selection: ChannelSelection) {
    #expect(ChannelSelection(rawValue: selection.rawValue) == selection)
    #expect(selection.description == selection.rawValue)
}

@Test func unknownRawValueGivesNoChannelSelection() {
    #expect(ChannelSelection(rawValue: "fax") == nil)
}

@Test(arguments: Channel.allCases)
func allCoversEveryChannel(channel: Channel) {
    #expect(ChannelSelection.all.covers(channel))
}

@Test(arguments: Channel.allCases, Channel.allCases)
func singleChannelCoversOnlyItself(selected: Channel, sent: Channel) {
    #expect(ChannelSelection.only(selected).covers(sent) == (selected == sent))
}

@Test(arguments: Address.Kind.allCases)
func allAcceptsEveryKindOfAddress(kind: Address.Kind) {
    #expect(ChannelSelection.all.accepts(kind))
}

@Test func emailAcceptsOnlyEmailAddresses() {
    #expect(ChannelSelection.only(.email).accepts(.email))
    #expect(!ChannelSelection.only(.email).accepts(.phone))
}

@Test(arguments: [Channel.sms, .whatsapp, .voice])
func phoneChannelAcceptsOnlyPhoneNumbers(channel: Channel) {
    #expect(ChannelSelection.only(channel).accepts(.phone))
    #expect(!ChannelSelection.only(channel).accepts(.email))
}
