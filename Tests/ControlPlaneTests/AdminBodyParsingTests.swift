import ControlPlane
import GatewayModel
import Testing

/// Admin bodies parsed without a server (`AdminBody.parse`, what every write endpoint runs first), including the
/// hostile shapes found while writing the fuzz targets (docs/fuzzing.md).
@Suite struct AdminBodyParsingTests {
    static let form = "application/x-www-form-urlencoded"

    static func status(_ body: String, _ contentType: String = form) -> Int? {
        do {
            _ = try AdminBody.parse(Array(body.utf8), contentType: contentType)
            return nil
        } catch let error as GatewayError {
            return error.status
        } catch {
            return -1
        }
    }

    @Test func formNamesNestAppendAndIndex() throws {
        let body = try AdminBody.parse(Array("name=a&config.x.y=1&tags[]=t1&tags[]=t2&list[2]=c&list[0]=a&r=1&r=2".utf8),
                                       contentType: Self.form)
        #expect(body.fromForm)
        #expect(body.fields["name"] == "a")
        #expect(body.fields["config"] == ["x": ["y": "1"]])
        #expect(body.fields["tags"] == ["t1", "t2"])
        #expect(body.fields["list"] == ["2": "c", "0": "a"])
        #expect(body.fields["r"] == ["1", "2"])
        #expect(Self.status("a=1&a.b=2") == 400)
        #expect(Self.status(".=1") == 400)
        #expect(Self.status("a[b=1") == 400)
    }

    /// A field name with 100,000 levels used to recurse once per level while inserting (a stack overflow in the
    /// control plane) after building 100,000 segments; it is refused at the 33rd.
    @Test func deeplyNestedFormNamesAreRefused() {
        let levels32 = "a" + String(repeating: ".b", count: 31)
        #expect(Self.status(levels32 + "=x") == nil)
        #expect(Self.status(levels32 + ".c=x") == 400)
        #expect(Self.status("a" + String(repeating: "[]", count: 100_000) + "=x") == 400)
        #expect(Self.status("a" + String(repeating: ".a", count: 100_000) + "=x") == 400)
        #expect(Self.status("a" + String(repeating: "[1]", count: 100_000) + "=x") == 400)
    }

    /// Each field used to copy every field before it (copy-on-write of a shared dictionary or array), so a body of
    /// n fields cost n² and 200,000 of them (2.6 MB, well under the body limit) took minutes.
    @Test func manyFormFieldsCostLinearTime() throws {
        let n = 200_000
        var text = (0..<n).map { "k\($0)=v" }.joined(separator: "&")
        var body = try AdminBody.parse(Array(text.utf8), contentType: Self.form)
        #expect(body.fields.count == n)
        #expect(body.fields["k199999"] == "v")
        text = String(repeating: "a[]=x&", count: n) + String(repeating: "o.k=y&", count: n)
        body = try AdminBody.parse(Array(text.utf8), contentType: Self.form)
        #expect(body.fields["a"]?.arrayValue?.count == n)
        #expect(body.fields["o"]?["k"]?.arrayValue?.count == n)
    }

    @Test func multipartBoundaryIsAtMost70Characters() throws {
        func body(_ boundary: String) -> String {
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--\(boundary)--\r\n"
        }
        let ok = String(repeating: "b", count: 70)
        let parsed = try AdminBody.parse(Array(body(ok).utf8), contentType: "multipart/form-data; boundary=\"\(ok)\"")
        #expect(parsed.fields["username"] == "alice")
        let long = String(repeating: "b", count: 71)
        #expect(Self.status(body(long), "multipart/form-data; boundary=\(long)") == 400)
    }
}
