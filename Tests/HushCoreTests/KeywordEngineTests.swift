import HushCore
import Testing

@Suite struct KeywordEngineTests {
    static let promo = ListID(rawValue: 9)
    let engine = KeywordEngine(listKeywords: [(keyword: "PROMO STOP", list: promo), (keyword: "NOOFFERS", list: promo)])

    @Test(arguments: [
        // Exact keywords, in any case, with punctuation, spaces and emoji.
        ("STOP", "STOP"), ("stop", "STOP"), ("Stop.", "STOP"), (" STOP!!! ", "STOP"), ("stop 🙏", "STOP"), ("🛑 STOP 🛑", "STOP"),
        ("STOPALL", "STOPALL"), ("Unsubscribe", "UNSUBSCRIBE"), ("cancel", "CANCEL"), ("END", "END"), ("quit", "QUIT"),
        ("REVOKE", "REVOKE"), ("optout", "OPTOUT"), ("opt out", "OPT OUT"), ("Opt-Out", "OPT OUT"), ("OPT_OUT", "OPT OUT"),
        ("alto", "ALTO"), ("Parar", "PARAR"), ("arrêt", "ARRET"), ("ARRET", "ARRET"), ("désabonner", "DESABONNER"),
        // Requests made of an opt-out word: the FCC's "any reasonable means".
        ("STOP please", "STOP"), ("please stop", "STOP"), ("Please stop texting me", "STOP"), ("stop texting me!!", "STOP"),
        ("stop sending me messages", "STOP"), ("STOP STOP STOP", "STOP"), ("stop it now", "STOP"), ("Stop. Thanks", "STOP"),
        ("unsubscribe me", "UNSUBSCRIBE"), ("Please unsubscribe me from this list", "UNSUBSCRIBE"), ("I want to opt out", "OPT OUT"),
        ("I revoke my consent", "REVOKE"), ("cancel my subscription", "CANCEL"), ("stop all messages to this number", "STOP"),
        ("no more texts please", "NO MORE TEXTS"), ("Remove me", "REMOVE ME"), ("take me off your list", "TAKE ME OFF"),
        ("Do not text me", "DO NOT TEXT"), ("don't text me again", "DONT TEXT"), ("alto por favor", "ALTO"),
    ])
    func optOuts(message: String, keyword: String) {
        let result = engine.classify(message)
        #expect(result.kind == .optOut, "\(message)")
        #expect(KeywordEngine.words(result.keyword ?? "") == KeywordEngine.words(keyword), "\(message)")
        #expect(result.lists.isEmpty, "\(message)")
    }

    @Test(arguments: [
        "Stop by the store tomorrow?", "Can't stop smiling", "Don't stop", "The end of the month works for me",
        "I need to cancel my appointment", "Quit your job and join us?", "We'll stop at the gas station", "That was the end!",
        "can you stop by at 5", "Let's end the call here", "stop and go traffic again", "I could not stop laughing",
    ])
    func ordinaryLanguageGoesToReview(message: String) {
        #expect(engine.classify(message).kind == .needsReview, "\(message)")
    }

    @Test(arguments: [("START", KeywordResult.Kind.optIn), ("Unstop", .optIn), ("yes", .optIn), ("YES please", .optIn),
                      ("help", .help), ("HELP?", .help), ("Info", .help), ("help please", .help)])
    func optInsAndHelp(message: String, kind: KeywordResult.Kind) {
        #expect(engine.classify(message).kind == kind, "\(message)")
    }

    @Test(arguments: ["Hello, is this the bakery?", "Thanks!", "", "   ", "🙂", "Yes, I'll be there at 5", "What are your hours?"])
    func otherMessagesAreNothing(message: String) {
        #expect(engine.classify(message).kind == .none, "\(message)")
    }

    @Test func listKeywordsOptOutOfTheirListOnly() {
        let promo = engine.classify("promo stop")
        #expect(promo.kind == .optOut)
        #expect(promo.keyword == "PROMO STOP")
        #expect(promo.lists == [Self.promo])
        #expect(engine.classify("NoOffers please").lists == [Self.promo])
        #expect(engine.classify("STOP").lists.isEmpty)
    }

    @Test func optOutWinsOverOptIn() {
        #expect(engine.classify("STOP START").kind == .optOut)
        #expect(engine.classify("yes stop").kind == .optOut)
    }

    @Test func keywordsAreConfigurable() {
        let custom = KeywordEngine(keywords: KeywordSet(optOut: ["BASTA"], optIn: ["SI"], help: ["AYUDA"]))
        #expect(custom.classify("basta").kind == .optOut)
        #expect(custom.classify("STOP").kind == .none)
        #expect(custom.classify("Ayuda").kind == .help)
    }
}
