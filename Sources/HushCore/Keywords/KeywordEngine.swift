import Foundation

/// The words an organization's inbound messages are read for.
public struct KeywordSet: Hashable, Sendable {
    /// Twilio's and CTIA's opt-out words, the words the FCC's 2024 revocation rule names, and
    /// Spanish and French equivalents.
    public static let defaultOptOut = [
        "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT",
        "ALTO", "PARAR", "ARRET", "ARRÊT", "DESABONNER",
    ]
    public static let defaultOptIn = ["START", "UNSTOP", "YES"]
    public static let defaultHelp = ["HELP", "INFO"]
    /// CTIA's opt-out and opt-in words: they always act for the whole organization, so they can
    /// never be removed from the sets nor be a list's keyword.
    public static let requiredOptOut = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
    public static let requiredOptIn = ["START", "UNSTOP"]
    public static let maximumWords = 50
    public static let maximumWordLength = 50

    /// Whether `keyword` reads as one of CTIA's words.
    public static func isReserved(_ keyword: String) -> Bool {
        let words = KeywordEngine.words(keyword)
        return (requiredOptOut + requiredOptIn).contains { KeywordEngine.words($0) == words }
    }

    public var optOut: [String]
    public var optIn: [String]
    public var help: [String]

    public init(optOut: [String] = defaultOptOut, optIn: [String] = defaultOptIn, help: [String] = defaultHelp) {
        self.optOut = optOut
        self.optIn = optIn
        self.help = help
    }

    /// Sets an admin chose: each 1 to 50 words of 1 to 50 characters with a letter or digit;
    /// the opt-out set keeps every CTIA opt-out word and the opt-in set START and UNSTOP.
    public init(validating optOut: [String], optIn: [String], help: [String]) throws(HushError) {
        for (field, words, required) in [
            ("keywords.opt_out", optOut, Self.requiredOptOut), ("keywords.opt_in", optIn, Self.requiredOptIn), ("keywords.help", help, []),
        ] {
            guard (1...Self.maximumWords).contains(words.count) else {
                throw .invalid(field, "give 1 to \(Self.maximumWords) keywords")
            }
            for (offset, word) in words.enumerated() {
                guard !KeywordEngine.words(word).isEmpty, word.count <= Self.maximumWordLength, !word.contains(where: \.isNewline) else {
                    throw .invalid("\(field)[\(offset)]", "a keyword has 1 to \(Self.maximumWordLength) characters with a letter or digit, on one line")
                }
            }
            let given = Set(words.map(KeywordEngine.words))
            if let missing = required.first(where: { !given.contains(KeywordEngine.words($0)) }) {
                throw .invalid(field, "\(missing) always stays in this set (CTIA); add your words beside it")
            }
        }
        self.init(optOut: optOut, optIn: optIn, help: help)
    }
}

/// What an inbound message asks for.
public struct KeywordResult: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case optOut = "opt_out"
        case optIn = "opt_in"
        case help
        /// Holds an opt-out word used as ordinary language ("Can't stop smiling"): a person
        /// decides.
        case needsReview = "needs_review"
        case none
    }

    public let kind: Kind
    /// The keyword that matched, as configured.
    public let keyword: String?
    /// The lists a list keyword touches; empty for the default keywords.
    public let lists: [ListID]

    public init(kind: Kind, keyword: String? = nil, lists: [ListID] = []) {
        self.kind = kind
        self.keyword = keyword
        self.lists = lists
    }
}

/// Reads inbound messages (SMS, WhatsApp) for opt-out, opt-in and help keywords. Pure: no I/O.
///
/// The rule, after the FCC's 2024 order that any reasonable means revokes consent:
/// 1. A message is compared after folding case and accents and dropping punctuation and emoji
///    (`" Stop!!! 🙏"` reads `STOP`; `OPT-OUT` reads `OPT OUT`).
/// 2. A message that is exactly a keyword means that keyword: a list's keyword opts out of that
///    list, a default opt-out word of the default list, an opt-in word lifts, a help word asks
///    for help.
/// 3. A message that holds an opt-out word (or a revocation phrase such as "remove me" or "do
///    not text me") and otherwise only words that make a request of it — courtesy, pronouns,
///    "texting", "messages", "these", "any more" — is an opt-out: "STOP please", "please stop
///    texting me", "unsubscribe me", "I want to opt out".
/// 4. A message that holds an opt-out word among other words ("Stop by the store tomorrow?",
///    "Can't stop smiling") is not an opt-out but `needs_review`, for a person to decide.
/// 5. Opt-out wins: a message that reads as an opt-out is one even if it also holds an opt-in
///    word. Opt-in and help words count only as the whole message (with courtesy words).
public struct KeywordEngine: Sendable {
    /// Words that turn an opt-out word into a request rather than ordinary language.
    static let requestWords: Set<String> = [
        "PLEASE", "PLS", "PLZ", "NOW", "IT", "ME", "MY", "I", "US", "WE", "YOU", "YOUR", "THANKS", "THANK", "THX", "TY",
        "ALL", "TEXT", "TEXTS", "TEXTING", "MESSAGE", "MESSAGES", "MESSAGING", "MSG", "MSGS", "SMS", "SEND", "SENDING",
        "CONTACT", "CONTACTING", "CALL", "CALLS", "CALLING", "EMAIL", "EMAILS", "EMAILING", "RECEIVING", "GETTING",
        "THIS", "THESE", "THAT", "THOSE", "THE", "NUMBER", "FROM", "TO", "ON", "OF", "FOR", "LIST", "LISTS",
        "SUBSCRIPTION", "CONSENT", "OK", "OKAY", "JUST", "ANY", "MORE", "NO", "DO", "NOT", "WANT", "WOULD",
        "LIKE", "BE", "REMOVED", "UNSUBSCRIBED", "NEED", "CAN", "KINDLY", "AND", "ALREADY", "AGAIN", "FOREVER",
        "IMMEDIATELY", "ASAP", "RIGHT", "AWAY", "ANYMORE", "PROMOTIONS", "PROMOS", "ADS", "MARKETING", "SPAM",
        "HEY", "HI", "HELLO", "SIR", "MAAM", "POR", "FAVOR", "SVP", "MERCI", "GRACIAS", "YA", "TODO", "PLUS",
    ]
    static let negations: Set<String> = ["DONT", "CANT", "NEVER", "NOT", "WONT", "DIDNT", "COULDNT", "SHOULDNT"]
    /// Revocations without a keyword.
    static let revocationPhrases: [[String]] = [
        ["REMOVE", "ME"], ["TAKE", "ME", "OFF"], ["DO", "NOT", "TEXT"], ["DO", "NOT", "CONTACT"], ["DO", "NOT", "CALL"],
        ["DO", "NOT", "MESSAGE"], ["DONT", "TEXT"], ["DONT", "CONTACT"], ["DONT", "MESSAGE"], ["NO", "MORE", "TEXTS"],
        ["NO", "MORE", "MESSAGES"], ["LEAVE", "ME", "ALONE"],
    ]
    /// Words a revocation phrase may also be surrounded by ("take me off your list").
    static let phraseWords: Set<String> = ["REMOVE", "TAKE", "OFF", "LEAVE", "ALONE"]

    private struct Entry {
        let words: [String]
        let keyword: String
        let kind: KeywordResult.Kind
        let lists: [ListID]
    }

    private let entries: [Entry]

    public init(keywords: KeywordSet = KeywordSet(), listKeywords: [(keyword: String, list: ListID)] = []) {
        var entries: [Entry] = []
        // List keywords first: "PROMO STOP" belongs to its list, not to the default STOP.
        for (keyword, list) in listKeywords {
            entries.append(Entry(words: Self.words(keyword), keyword: keyword, kind: .optOut, lists: [list]))
        }
        entries += keywords.optOut.map { Entry(words: Self.words($0), keyword: $0, kind: .optOut, lists: []) }
        entries += keywords.optIn.map { Entry(words: Self.words($0), keyword: $0, kind: .optIn, lists: []) }
        entries += keywords.help.map { Entry(words: Self.words($0), keyword: $0, kind: .help, lists: []) }
        // Longer keywords first, so "OPT OUT" is found before a one-word keyword inside it.
        self.entries = entries.filter { !$0.words.isEmpty }.enumerated()
            .sorted { ($0.element.words.count, -$0.offset) > ($1.element.words.count, -$1.offset) }
            .map(\.element)
    }

    /// Upper-cased, accents folded, everything but letters and digits turned into spaces.
    public static func words(_ text: String) -> [String] {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil).uppercased()
        var words: [String] = []
        var current = ""
        for scalar in folded.unicodeScalars {
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                current.unicodeScalars.append(scalar)
            } else if scalar == "'" || scalar == "’" {
                continue  // "don't" reads DONT
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    public func classify(_ message: String) -> KeywordResult {
        let words = Self.words(message)
        guard !words.isEmpty else { return KeywordResult(kind: .none) }

        // 2. The whole message is a keyword.
        if let exact = entries.first(where: { $0.words == words }) {
            return KeywordResult(kind: exact.kind, keyword: exact.keyword, lists: exact.lists)
        }
        // 3 and 5. An opt-out word (or phrase) made a request of.
        var foundOptOutWord: Entry?
        for entry in entries where entry.kind == .optOut {
            guard let range = Self.find(entry.words, in: words) else { continue }
            foundOptOutWord = foundOptOutWord ?? entry
            var rest = words
            rest.removeSubrange(range)
            // "Don't stop", "can't stop": a negated opt-out word is not a request.
            let negated = range.lowerBound > 0 && Self.negations.contains(words[range.lowerBound - 1])
            if !negated && rest.allSatisfy({ Self.requestWords.contains($0) || Self.isKeywordWord($0, entries) }) {
                return KeywordResult(kind: .optOut, keyword: entry.keyword, lists: entry.lists)
            }
        }
        for phrase in Self.revocationPhrases {
            guard let range = Self.find(phrase, in: words) else { continue }
            var rest = words
            rest.removeSubrange(range)
            if rest.allSatisfy({ Self.requestWords.contains($0) || Self.phraseWords.contains($0) }) {
                return KeywordResult(kind: .optOut, keyword: phrase.joined(separator: " "))
            }
        }
        // Help and opt-in words with courtesy around them ("HELP please", "yes please").
        for entry in entries where entry.kind != .optOut {
            guard let range = Self.find(entry.words, in: words) else { continue }
            var rest = words
            rest.removeSubrange(range)
            if rest.allSatisfy({ ["PLEASE", "PLS", "THANKS", "THANK", "YOU", "ME", "OK", "AGAIN"].contains($0) }) {
                return KeywordResult(kind: entry.kind, keyword: entry.keyword, lists: entry.lists)
            }
        }
        // 4. An opt-out word in ordinary language.
        if let word = foundOptOutWord {
            return KeywordResult(kind: .needsReview, keyword: word.keyword, lists: word.lists)
        }
        return KeywordResult(kind: .none)
    }

    /// A default one-word keyword: "STOP STOP", and "STOP START" (opt-out wins).
    private static func isKeywordWord(_ word: String, _ entries: [Entry]) -> Bool {
        entries.contains { $0.lists.isEmpty && $0.words == [word] }
    }

    private static func find(_ needle: [String], in words: [String]) -> Range<Int>? {
        guard needle.count <= words.count else { return nil }
        for start in 0...(words.count - needle.count) where Array(words[start..<start + needle.count]) == needle {
            return start..<start + needle.count
        }
        return nil
    }
}
