import HushCore

/// The names of lists, which blocks carry: kept beside the entries, published to every shard,
/// and copied by each thread that checks without a lock (`ThreadListNames`).
extension SuppressionIndex {
    /// Counts the list names' changes; give it to `replaceListNames` with a read made after.
    var listNamesVersion: UInt64 { listNames.withLock { $0.version } }

    func noteListName(_ name: String, for list: ListID) {
        listNames.withLock { current in
            guard current.names[list] != name else { return }
            current.names[list] = name
            current.version &+= 1
            publish(current.names)
        }
    }

    /// Takes every name read from the database, unless a name changed since `version` (the read
    /// may predate that change; the next read brings it).
    func replaceListNames(with names: [ListID: String], readAt version: UInt64) {
        listNames.withLock { current in
            guard current.version == version, current.names != names else { return }
            current.names = names
            publish(names)
        }
    }

    /// The stamp moves first: a check without the lock that sees it takes a new copy, which
    /// waits for this lock, so no check names a list by its old name after another has named it
    /// by its new one.
    private func publish(_ names: [ListID: String]) {
        namesStamp.add(1, ordering: .releasing)
        let table = ListNameTable(names)
        for shard in shards {
            shard.state.withLock { $0.listNames = table }
        }
    }

    /// The names and their stamp, as one: a table of the thread's own, so that checks on
    /// different threads never touch one reference count.
    func listNamesNow() -> (stamp: UInt64, table: ListNameTable) {
        listNames.withLock { (namesStamp.load(ordering: .relaxed), ListNameTable($0.names)) }
    }
}
