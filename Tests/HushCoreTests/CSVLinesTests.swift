import HushCore
import Testing

@Suite struct CSVLinesTests {
    private func line(_ fields: [String]) -> String {
        var csv = CSVLines(capacity: 64)
        csv.row(fields)
        return String(decoding: csv.bytes, as: UTF8.self)
    }

    @Test(arguments: ["=HYPERLINK(1)", "+14155550100", "-1+1", "@SUM(A1)", "\tcmd"])
    func formulaLikeFieldsGetALeadingQuoteAndLoseItOnImport(field: String) {
        #expect(line([field, "ok"]) == "'\(field),ok\n")
        #expect(CSVLines.restored("'" + field) == field)
    }

    @Test func quotedFormulaFieldsKeepTheQuoteInsideTheirQuotes() {
        #expect(line(["=1,2"]) == "\"'=1,2\"\n")
        #expect(line(["\rcmd"]) == "\"'\rcmd\"\n")
    }

    @Test func ordinaryFieldsAreUntouched() {
        #expect(line(["ann@example.com", "email", "a,b", "say \"hi\""]) == "ann@example.com,email,\"a,b\",\"say \"\"hi\"\"\"\n")
        #expect(CSVLines.restored("'plain") == "'plain")
        #expect(CSVLines.restored("+1") == "+1")
    }
}
