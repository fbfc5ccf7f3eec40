import GRDB
import HushCore

extension ChangeTransaction {
    /// Among `addressIDs`, those with more suppressions in force than the limit, counted in this
    /// transaction after its writes (one index range per address).
    func addressesOverLimit(_ addressIDs: Set<Int64>) throws -> [Int64] {
        var over: [Int64] = []
        // A few addresses (a group commit of single opt-outs) take one cached statement each; a
        // bulk statement of another size would be prepared anew for every transaction.
        if addressIDs.count < 64 {
            let statement = try db.cachedStatement(sql: """
                SELECT COUNT(*) FROM (SELECT 1 FROM suppressions WHERE address_id = ? LIMIT \(ChangeRules.maximumSuppressionsPerAddress + 1))
                """)
            for id in addressIDs where try Int.fetchOne(statement, arguments: [id]) ?? 0 > ChangeRules.maximumSuppressionsPerAddress {
                over.append(id)
            }
            return over
        }
        try BulkStatement(head: "SELECT v.column1 FROM (VALUES", columns: 1, tail: """
            ) v WHERE (SELECT COUNT(*) FROM (
                SELECT 1 FROM suppressions s WHERE s.address_id = v.column1 LIMIT \(ChangeRules.maximumSuppressionsPerAddress + 1)
            )) > \(ChangeRules.maximumSuppressionsPerAddress)
            """).run(addressIDs, in: db, bind: { id, values in values.bind(id) }, row: { row in over.append(row.int64(0)) })
        return over
    }
}
