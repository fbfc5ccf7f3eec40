import GRDB
import HushCore

/// Identities bind and read as the numbers they are.
extension Identifier: SQLExpressible, StatementBinding, DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { rawValue.databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> Self? {
        Int64.fromDatabaseValue(dbValue).map(Self.init(rawValue:))
    }
}
