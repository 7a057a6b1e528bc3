import Testing
import AviaryProtocol

/// The allow-list file format: keys, index bindings, comments, and errors naming file:line.
@Suite struct AllowListTests {
    static let a = String(repeating: "a", count: 40)
    static let b = "#" + String(repeating: "B", count: 39)  // '#' is a Z85 character

    @Test func parsesKeysBindingsAndComments() throws {
        let text = """
        # clients of machine A
        \(Self.a) 0-9,12, 20-21   # machine A

        \(Self.b)
        """
        let list = try AllowList.parse(text, file: "allowed.txt")
        #expect(list.keys == [Self.a, Self.b])
        #expect(list.binding(for: Self.a) == .indices([0...9, 12...12, 20...21]))
        #expect(list.binding(for: Self.b) == .any)
        #expect(list.binding(for: Self.a)?.allows(12) == true)
        #expect(list.binding(for: Self.a)?.allows(13) == false)
        #expect(list.binding(for: Self.a)?.description == "0-9,12,20-21")
        // What keygen writes reads back the same.
        #expect(try AllowList.parse(list.rendered(header: ["h"]), file: "x") == list)
    }

    @Test func errorsNameTheFileAndLine() {
        let cases: [(String, AllowListError)] = [
            ("# ok\nnot-a-key 1", .badKey(file: "f.txt", line: 2, text: "not-a-key")),
            ("\(Self.a) 3-1", .badIndices(file: "f.txt", line: 1, text: "3-1")),
            ("\(Self.a) x", .badIndices(file: "f.txt", line: 1, text: "x")),
            ("\(Self.a) 1\n\n\(Self.a) 2", .duplicateKey(file: "f.txt", line: 3, firstLine: 1)),
            ("# nothing\n", .empty(file: "f.txt")),
        ]
        for (text, expected) in cases {
            #expect(throws: expected) { try AllowList.parse(text, file: "f.txt") }
        }
        #expect(AllowListError.badIndices(file: "f.txt", line: 4, text: "x").description.hasPrefix("f.txt:4: "))
    }

    @Test func shortDescriptionStaysShortForStridedBindings() {
        let b = AllowList.Binding.of(Array(stride(from: 3, to: 100_000, by: 10)))
        #expect(b.short == "3,13,23,…,99993 (10000 indices)")
    }
}
