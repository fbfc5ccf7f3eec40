/// Whom a change is about: one address, or a contact and so every address it has.
public enum Subject: Hashable, Sendable, CustomStringConvertible {
    case address(Address)
    case contact(ContactID)

    public var description: String {
        switch self {
        case .address(let address): address.normalized
        case .contact(let contact): "contact \(contact.externalID)"
        }
    }
}

/// A contact as the systems that send know it: by an external id (a CRM or prospect id).
public struct ContactID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maximumLength = 255

    public let externalID: String

    public init(parsing input: String) throws(HushError) {
        let trimmed = input.trimmed
        guard (1...Self.maximumLength).contains(trimmed.utf8.count) else {
            throw .invalid("contact", "a contact id has 1 to \(Self.maximumLength) characters")
        }
        externalID = trimmed
    }

    public static func < (lhs: ContactID, rhs: ContactID) -> Bool { lhs.externalID < rhs.externalID }
    public var description: String { externalID }
}

/// A contact and the addresses linked to it.
public struct Contact: Hashable, Sendable {
    public let id: ContactID
    public let addresses: [Address]

    public init(id: ContactID, addresses: [Address]) {
        self.id = id
        self.addresses = addresses
    }
}
