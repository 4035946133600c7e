import GatewayModel
import Testing

@Suite("PCRE route regexes")
struct PCRERegexTests {
    @Test func anchoredAtTheStart() throws {
        let r = try PCRERegex("/users/\\d+", anchored: true)
        #expect(r.firstMatch(in: "/users/42/x") == 0..<9)
        #expect(r.firstMatch(in: "/api/users/42") == nil)
        #expect(r.firstMatch(in: "/users/") == nil)
        let free = try PCRERegex("/users/\\d+", anchored: false)
        #expect(free.firstMatch(in: "/api/users/42") == 4..<13)
    }

    @Test func pcreSyntaxKongUsersWrite() throws {
        // Named captures, possessive quantifiers, lookahead, \K and inline flags: PCRE, not ICU.
        #expect(try PCRERegex("/(?<version>v\\d+)/items").firstMatch(in: "/v2/items/7") == 0..<9)
        #expect(try PCRERegex("/a++b").firstMatch(in: "/aaab") == 0..<5)
        #expect(try PCRERegex("/a++a").firstMatch(in: "/aaaa") == nil)
        #expect(try PCRERegex("/x(?=/y)").firstMatch(in: "/x/y") == 0..<2)
        #expect(try PCRERegex("/(?i)ABC").firstMatch(in: "/abc") == 0..<4)
        #expect(try PCRERegex("/p/\\K\\w+").firstMatch(in: "/p/name") == 3..<7)
    }

    @Test func bytesNotCharacters() throws {
        // Kong matches without UTF mode: `.` is one byte, offsets are byte offsets.
        let r = try PCRERegex("/caf..$")
        #expect(r.firstMatch(in: "/café") == 0..<6)
        #expect(try PCRERegex("/caf.$").firstMatch(in: "/café") == nil)
    }

    @Test func invalidPatternsSayWhyAndWhere() {
        #expect(throws: PCRERegex.CompileError.self) { try PCRERegex("/users/(") }
        do {
            _ = try PCRERegex("/echo/**/broken")
            Issue.record("a pattern with nothing to repeat compiled")
        } catch {
            #expect(error.message == "quantifier does not follow a repeatable item")
            #expect(error.offset == 7)
        }
    }

    @Test func sharedAcrossThreads() async throws {
        let r = try PCRERegex("/t/(\\d+)/x")
        let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for i in 0..<64 {
                group.addTask { (0..<500).allSatisfy { _ in r.firstMatch(in: "/t/\(i)/x") == 0..<(5 + String(i).count) } }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
    }
}
