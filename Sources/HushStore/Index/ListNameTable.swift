import HushCore

/// List names by id for the check path: list ids are small row ids, so an array indexed by id
/// answers without hashing; a larger id (never seen in practice) goes to a dictionary.
struct ListNameTable: Sendable {
    private static let arrayLimit: Int64 = 1 << 16
    private var byIndex: [String?] = []
    private var others: [ListID: String] = [:]

    init(_ names: [ListID: String] = [:]) {
        for (list, name) in names {
            if list.rawValue >= 0, list.rawValue < Self.arrayLimit {
                let index = Int(list.rawValue)
                if index >= byIndex.count { byIndex += Array(repeating: nil, count: index + 1 - byIndex.count) }
                byIndex[index] = name
            } else {
                others[list] = name
            }
        }
    }

    /// The list's name; its id written out if the name has not reached the index yet.
    subscript(list: ListID) -> String {
        let index = list.rawValue
        if index >= 0, index < Int64(byIndex.count), let name = byIndex[Int(index)] { return name }
        return others[list] ?? String(list.rawValue)
    }
}
