import Logging
import PostgresNIO

extension PostgresSchema {
    /// An import's rows, staged while it reads them and moved into the ledger by one short
    /// transaction under the append lock. Unlogged: nothing in it outlives a failed import, and
    /// a server crash empties it.
    static let v6: [String] = [
        """
        CREATE UNLOGGED TABLE import_staged (
            run text NOT NULL,
            staged_at bigint NOT NULL,
            item bigint NOT NULL,
            subject_key text NOT NULL,
            kind text,
            name text NOT NULL,
            display text,
            channel text NOT NULL,
            list_id bigint NOT NULL,
            scope text NOT NULL,
            source text NOT NULL,
            actor text NOT NULL,
            evidence text,
            counts boolean NOT NULL,
            PRIMARY KEY (run, item)
        )
        """,
        "CREATE UNIQUE INDEX import_staged_key ON import_staged(run, subject_key, channel, list_id, scope)",
        "CREATE INDEX import_staged_age ON import_staged(staged_at)",
    ]
}
