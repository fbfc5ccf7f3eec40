import ArgumentParser
import CSV
import Foundation
import HushCore
import HushStore

/// The columns `hush export` writes and `hush import` reads.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import opt-outs from a CSV file, all or nothing.",
        discussion: """
            The file has a header row. It needs an `address` column (an email address, a phone \
            number, or `contact:ID`); `channel` and `list` columns, where present and not empty, \
            override --channel and --list for their row, and a `scope` column overrides --scope (empty: \
            the whole organization, as `hush export` writes it); `since` and `source` are kept as \
            evidence. A row whose `hold` is true is refused: a held opt-out is recorded with \
            `hush opt-out --hold`, never by an import. Other columns are ignored. The file is checked first: if any row is bad, \
            every bad row is reported (line: field: message) and nothing is imported, unless \
            --skip-invalid is given. The rows are staged beside the database as they are read, then \
            written by one short transaction, so a server on the same database keeps writing \
            meanwhile: interrupted, the import leaves none of its opt-outs.
            """)

    static let chunkSize = 2_000
    static let reportedErrors = 100

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var organization: OrganizationOption
    @Argument(help: "The CSV file.") var file: String
    @Option(help: "The list rows without a list column go to, by name or id.") var list: String = ListDefinition.defaultName
    @Option(help: "The channel of rows without a channel column: email, sms, whatsapp, voice or all.") var channel: String?
    @Option(help: "The scope of rows without a scope column.") var scope: String = ""
    @Flag(help: "Import the good rows and report the bad ones instead of importing nothing.") var skipInvalid = false

    func run() async throws {
        try await database.withStore(loadsIndex: false) { store in try await importFile(into: store) }
    }

    private func importFile(into store: any Store) async throws {
        let organization = try await organization.resolve(in: store)
        let lists = try await store.lists(in: organization.id)
        let mapper = try RowMapper(
            organization: organization, lists: lists, defaultList: try await store.listID(list, in: organization.id),
            channel: try channel.map { (name) throws(HushError) in try ChannelSelection(parsing: name) },
            scope: try Scope(parsing: scope), file: (file as NSString).lastPathComponent)

        // One pass: each chunk of good rows is staged while the rest is read. Once a row is bad
        // (without --skip-invalid) nothing will be imported: the rest is read only to report.
        let reader = try RowReader(path: file, mapper: mapper, progress: Progress(label: "reading", total: nil))
        let bad = BadRows(reportedUpTo: Self.reportedErrors)
        let skipInvalid = self.skipInvalid
        let summary: ImportSummary
        do {
            summary = try await store.importOptOuts(in: organization.id) {
                while let batch = try reader.next(Self.chunkSize) {
                    bad.report(batch.failures)
                    if bad.count == 0 || skipInvalid, !batch.optOuts.isEmpty { return batch.optOuts }
                }
                reader.progress.finish()
                FileHandle.standardError.write(Data("checked \(reader.rowsRead) rows\n".utf8))
                bad.reportRest()
                if bad.count > 0 && !skipInvalid { throw BadRows.Refused() }
                return nil
            }
        } catch is BadRows.Refused {
            FileHandle.standardError.write(Data(
                "\(bad.count) of \(reader.rowsRead) rows are bad; nothing was imported (fix them, or pass --skip-invalid)\n".utf8))
            throw ExitCode(1)
        }
        let invalid = bad.count
        var line = "imported \(summary.items) opt-outs: \(summary.written) new, \(summary.alreadyInForce) already in force"
        if invalid > 0 { line += ", \(invalid) bad rows skipped" }
        print(line)
    }
}

/// Turns CSV rows into opt-outs, with errors that name the column.
struct RowMapper: Sendable {
    let organization: Organization
    let listsByName: [String: OptOutList]
    let listsByID: [String: OptOutList]
    let defaultList: OptOutList
    let channel: ChannelSelection?
    let scope: Scope
    let file: String

    init(organization: Organization, lists: [OptOutList], defaultList: OptOutList, channel: ChannelSelection?, scope: Scope, file: String) throws {
        self.organization = organization
        // Current names win over names lists had before.
        let former = lists.flatMap { list in list.formerNames.map { ($0, list) } }
        listsByName = Dictionary(former + lists.map { ($0.definition.name, $0) }, uniquingKeysWith: { _, current in current })
        listsByID = Dictionary(lists.map { (String($0.id.rawValue), $0) }, uniquingKeysWith: { first, _ in first })
        self.defaultList = defaultList
        self.channel = channel
        self.scope = scope
        self.file = file
    }

    /// The opt-out of one row; `line` is kept as evidence.
    func optOut(_ fields: [String: String], line: Int) throws -> OptOut {
        func value(_ column: String) -> String? {
            guard let value = fields[column]?.trimmed, !value.isEmpty else { return nil }
            return value
        }
        guard let text = value("address") else { throw HushError.invalid("address", "the address is empty") }
        let subject: Subject
        if text.hasPrefix(SubjectKey.contactPrefix) {
            subject = .contact(try ContactID(parsing: String(text.dropFirst(SubjectKey.contactPrefix.count))))
        } else {
            subject = .address(try Address(parsing: text, region: organization.settings.defaultRegion))
        }
        let channel: ChannelSelection
        if let name = value("channel") {
            channel = try ChannelSelection(parsing: name)
        } else if let given = self.channel {
            channel = given
        } else {
            throw HushError.invalid("channel", "the row has no channel and --channel was not given")
        }
        let list: OptOutList
        if let name = value("list") {
            guard let found = listsByName[name] ?? listsByID[name] else {
                throw HushError.invalid("list", "no list \"\(name)\" in this organization")
            }
            list = found
        } else {
            list = defaultList
        }
        if case .only(let only) = channel, !list.definition.channels.contains(only) {
            throw HushError.invalid("channel", "the list \"\(list.definition.name)\" does not cover \(only)")
        }
        if case .address(let address) = subject, !channel.accepts(address.kind) {
            throw HushError.invalid("channel", "\(channel) does not send to \(address.kind == .email ? "email addresses" : "phone numbers")")
        }
        if let hold = value("hold"), !["false", "0", "no"].contains(hold.lowercased()) {
            throw HushError.invalid("hold", "a held opt-out is not imported (an import records plain opt-outs, and the hold would be lost): record it with hush opt-out --hold")
        }
        var evidence: [String: JSONValue] = ["file": .string(file), "line": .number(Double(line))]
        if let since = value("since") { evidence["original_since"] = .string(since) }
        if let source = value("source") { evidence["original_source"] = .string(source) }
        return OptOut(
            subject: subject, channel: channel,
            scope: try fields["scope"].map { (path) throws(HushError) in try Scope(parsing: path.trimmed) } ?? scope,
            list: list.id, source: .import, actor: commandLineActor, evidence: Evidence(evidence))
    }
}

/// Reads a CSV file a chunk at a time, for one task at a time: the import's one pass, whose
/// good rows are staged as they are read.
final class RowReader: @unchecked Sendable {
    struct Failure {
        let line: Int
        let message: String
    }

    struct Batch {
        var optOuts: [OptOut] = []
        var failures: [Failure] = []
    }

    private let reader: CSVReader
    private let columns: [String]
    private let mapper: RowMapper
    let progress: Progress
    private(set) var rowsRead = 0

    init(path: String, mapper: RowMapper, progress: Progress) throws {
        guard let stream = InputStream(fileAtPath: path), FileManager.default.isReadableFile(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: true)
        } catch {
            throw ValidationError("\(path) has no header row: \(error)")
        }
        columns = (reader.headerRow ?? []).map { $0.trimmed.lowercased() }
        guard columns.contains("address") else {
            throw ValidationError("\(path) needs an address column; its header is \(columns.joined(separator: ","))")
        }
        self.mapper = mapper
        self.progress = progress
    }

    /// Up to `count` rows; nil at the end of the file. Line numbers count the header as line 1.
    func next(_ count: Int) throws -> Batch? {
        var batch = Batch()
        var read = 0
        while read < count, let row = reader.next() {
            read += 1
            rowsRead += 1
            let line = rowsRead + 1
            if row.count == 1 && row[0].trimmed.isEmpty { continue }
            var fields: [String: String] = [:]
            for (column, value) in zip(columns, row) { fields[column] = CSVLines.restored(value) }
            do {
                batch.optOuts.append(try mapper.optOut(fields, line: line))
            } catch {
                batch.failures.append(Failure(line: line, message: error.commandLineDescription))
            }
        }
        // CSV.swift reports the end of the stream as `cannotReadFile`; anything else is a real failure.
        if let error = reader.error, !Self.isEndOfFile(error) {
            throw ValidationError("the file could not be read after line \(rowsRead + 1): \(error)")
        }
        progress.update(rowsRead)
        return read == 0 ? nil : batch
    }
}

extension RowReader {
    static func isEndOfFile(_ error: any Error) -> Bool {
        if case CSVError.cannotReadFile = error { return true }
        return false
    }
}

/// The bad rows of an import: the first ones reported on standard error as they are read
/// (line: field: message), the rest counted.
final class BadRows: @unchecked Sendable {
    struct Refused: Error {}

    private let reportedUpTo: Int
    private(set) var count = 0

    init(reportedUpTo: Int) {
        self.reportedUpTo = reportedUpTo
    }

    func report(_ failures: [RowReader.Failure]) {
        for failure in failures {
            count += 1
            if count <= reportedUpTo {
                FileHandle.standardError.write(Data("line \(failure.line): \(failure.message)\n".utf8))
            }
        }
    }

    func reportRest() {
        if count > reportedUpTo {
            FileHandle.standardError.write(Data("… and \(count - reportedUpTo) more bad rows\n".utf8))
        }
    }
}

/// A progress bar on standard error, drawn only when it is a terminal.
final class Progress: @unchecked Sendable {
    private let label: String
    private let total: Int?
    private let enabled = isatty(STDERR_FILENO) == 1
    private var drawn = ContinuousClock.now - .seconds(1)

    init(label: String, total: Int?) {
        self.label = label
        self.total = total
    }

    func update(_ done: Int, force: Bool = false) {
        guard enabled, force || ContinuousClock.now - drawn > .milliseconds(100) else { return }
        drawn = ContinuousClock.now
        var line = "\r\(label) "
        if let total, total > 0 {
            let width = 30
            let filled = min(width, done * width / total)
            line += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            line += "\(done * 100 / total)% \(done)/\(total) rows"
        } else {
            line += "\(done) rows"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a list's opt-outs as CSV: address, channel, scope, list, since, source.",
        discussion: """
            Rows come oldest first, a page at a time, so memory stays constant. An opt-out recorded \
            for a contact is written with the address `contact:ID`; erased addresses are left out. \
            The file reads back with `hush import`.
            """)

    static let pageSize = 1_000

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var organization: OrganizationOption
    @Option(help: "The list, by name or id.") var list: String = ListDefinition.defaultName
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func run() async throws {
        try await database.withStore(loadsIndex: false) { store in try await export(from: store) }
    }

    private func export(from store: any Store) async throws {
        let organization = try await organization.resolve(in: store)
        let list = try await store.listID(list, in: organization.id)
        let handle: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil) , let opened = FileHandle(forWritingAtPath: output) else {
                throw ValidationError("cannot write \(output)")
            }
            handle = opened
        } else {
            handle = FileHandle.standardOutput
        }
        var header = true
        var after: Int64 = 0
        var written = 0
        var erased = 0
        let progress = Progress(label: "exporting", total: nil)
        while true {
            let page = try await store.entries(of: list.id, in: organization.id, after: after, limit: Self.pageSize)
            var csv = CSVLines(capacity: 64 * page.count + 64)
            if header {
                csv.row(CSVLines.entryColumns)
                header = false
            }
            for entry in page {
                let address: String
                switch entry.subject {
                case .address(let key) where ErasureKey.isErased(key):
                    erased += 1
                    continue
                case .address(let key): address = key
                case .contact(let id): address = SubjectKey.contact(id).stored
                }
                csv.row([
                    address, entry.channel.description, entry.scope.path, list.definition.name, Timestamp.format(entry.since),
                    entry.source.rawValue, entry.hold ? "true" : "false",
                ])
                written += 1
            }
            if !csv.bytes.isEmpty { try handle.write(contentsOf: csv.bytes) }
            progress.update(written)
            guard page.count == Self.pageSize, let last = page.last else { break }
            after = last.eventSequence
        }
        progress.finish()
        if output != nil { try handle.close() }
        var note = "exported \(written) opt-outs from list \(list.definition.name)"
        if erased > 0 { note += " (\(erased) erased addresses left out)" }
        FileHandle.standardError.write(Data((note + "\n").utf8))
    }
}
