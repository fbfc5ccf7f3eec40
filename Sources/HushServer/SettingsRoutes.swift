import Foundation
import Hummingbird
import HushCore
import HushStore

/// `GET/PATCH /v1/settings`: an organization's opt-out behaviour, branding and inbound settings.
extension V1Routes {

    struct SettingsOutput: Encodable, Sendable {
        let organization: String
        let granularOptOuts: Bool
        let defaultRegion: String?
        let brandName: String?
        let brandLogoURL: String?
        let brandColor: String?
        let helpText: String
        let keywords: KeywordsJSON
        let twilioAuthTokenSet: Bool

        enum CodingKeys: String, CodingKey {
            case organization, keywords
            case granularOptOuts = "granular_opt_outs"
            case defaultRegion = "default_region"
            case brandName = "brand_name"
            case brandLogoURL = "brand_logo_url"
            case brandColor = "brand_color"
            case helpText = "help_text"
            case twilioAuthToken = "twilio_auth_token"
            case twilioAuthTokenSet = "twilio_auth_token_set"
        }

        init(_ organization: Organization, _ inbound: InboundSettings) {
            helpText = inbound.helpText
            keywords = KeywordsJSON(optOut: inbound.keywords.optOut, optIn: inbound.keywords.optIn, help: inbound.keywords.help)
            twilioAuthTokenSet = inbound.twilioAuthToken != nil
            self.organization = organization.name
            granularOptOuts = organization.settings.granularOptOuts
            defaultRegion = organization.settings.defaultRegion?.rawValue
            brandName = organization.settings.branding.displayName
            brandLogoURL = organization.settings.branding.logoURL
            brandColor = organization.settings.branding.color
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(organization, forKey: .organization)
            try container.encode(granularOptOuts, forKey: .granularOptOuts)
            try container.encode(defaultRegion, forKey: .defaultRegion)
            try container.encode(brandName, forKey: .brandName)
            try container.encode(brandLogoURL, forKey: .brandLogoURL)
            try container.encode(brandColor, forKey: .brandColor)
            try container.encode(helpText, forKey: .helpText)
            try container.encode(keywords, forKey: .keywords)
            try container.encode(twilioAuthTokenSet, forKey: .twilioAuthTokenSet)
        }
    }

    /// The words inbound messages are read for.
    struct KeywordsJSON: Codable, APIInput {
        static let fields: Set<String> = ["opt_out", "opt_in", "help"]
        let optOut: [String]
        let optIn: [String]
        let help: [String]

        enum CodingKeys: String, CodingKey {
            case optOut = "opt_out"
            case optIn = "opt_in"
            case help
        }
    }

    /// Absent fields are kept; `null` clears a region or a brand field.
    struct SettingsInput: APIInput {
        static let fields: Set<String> = [
            "granular_opt_outs", "default_region", "brand_name", "brand_logo_url", "brand_color", "help_text", "keywords",
            "twilio_auth_token",
        ]
        let granularOptOuts: Bool?
        let helpText: String?
        let keywords: KeywordsJSON?
        /// Write-only: never shown back.
        let twilioAuthToken: String??
        let defaultRegion: String??
        let brandName: String??
        let brandLogoURL: String??
        let brandColor: String??

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: SettingsOutput.CodingKeys.self)
            granularOptOuts = try container.decodeIfPresent(Bool.self, forKey: .granularOptOuts)
            defaultRegion = try container.decodeClearable(String.self, forKey: .defaultRegion)
            brandName = try container.decodeClearable(String.self, forKey: .brandName)
            brandLogoURL = try container.decodeClearable(String.self, forKey: .brandLogoURL)
            brandColor = try container.decodeClearable(String.self, forKey: .brandColor)
            helpText = try container.decodeIfPresent(String.self, forKey: .helpText)
            keywords = try container.decodeIfPresent(Strict<KeywordsJSON>.self, forKey: .keywords)?.value
            twilioAuthToken = try container.decodeClearable(String.self, forKey: .twilioAuthToken)
        }
    }

    func settings(_ context: HushRequestContext) async throws -> JSONBody<SettingsOutput> {
        let caller = try context.caller()
        return JSONBody(SettingsOutput(try await store.requireOrganization(caller), try await store.inboundSettings(of: caller.organization)))
    }

    func updateSettings(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<SettingsOutput> {
        let caller = try context.caller()
        try caller.requireAdmin("changing settings")
        let input = try await request.input(SettingsInput.self, context: context)
        // Everything is checked before anything is written; then each part changes the stored
        // settings (never this node's cached copy) by what was given, so a change made on
        // another node a moment ago stays.
        var region: Region??
        if let given = input.defaultRegion {
            if let code = given {
                guard let parsed = Region(code: code) else {
                    throw Problem.invalid(
                        "default_region",
                        "\"\(code)\" is not a region libphonenumber \(PhoneMetadata.version) knows; "
                            + "use an ISO 3166 alpha-2 code such as GB (\(Region.supported.count) are supported)")
                }
                region = .some(parsed)
            } else {
                region = .some(nil)
            }
        }
        let help = try input.helpText.map { help in
            guard (1...InboundSettings.maximumTextLength).contains(help.trimmed.count) else {
                throw Problem.invalid("help_text", "the help text has 1 to \(InboundSettings.maximumTextLength) characters")
            }
            return help.trimmed
        }
        let keywords = try input.keywords.map { try KeywordSet(validating: $0.optOut, optIn: $0.optIn, help: $0.help) }
        if let token = input.twilioAuthToken, let token, token.isEmpty || token.count > 128 {
            throw Problem.invalid("twilio_auth_token", "the auth token has 1 to 128 characters")
        }
        let newRegion = region
        let updated = try await store.updateSettings(of: caller.organization) { settings in
            if let granular = input.granularOptOuts { settings.granularOptOuts = granular }
            if let newRegion { settings.defaultRegion = newRegion }
            if let name = input.brandName { settings.branding.displayName = name }
            if let logo = input.brandLogoURL { settings.branding.logoURL = logo }
            if let color = input.brandColor { settings.branding.color = color }
            settings.branding = try settings.branding.validated()
        }
        let inbound = try await store.updateInboundSettings(of: caller.organization) { inbound in
            if let help { inbound.helpText = help }
            if let keywords { inbound.keywords = keywords }
            if let token = input.twilioAuthToken { inbound.twilioAuthToken = token }
        }
        return JSONBody(SettingsOutput(updated, inbound))
    }
}
