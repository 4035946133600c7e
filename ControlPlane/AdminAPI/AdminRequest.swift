import Foundation
package import GatewayModel
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// A parsed admin request body: the fields as JSON, and whether they came as text (form or multipart), in which
/// case validation converts strings to each field's type.
package struct AdminBody: Sendable {
    package var fields: JSONObject
    package var fromForm: Bool

    /// Reads and parses the body by its content type: JSON, `application/x-www-form-urlencoded` (Kong's dotted
    /// and bracketed keys) or `multipart/form-data` (`curl -F cert=@ca.pem`).
    static func read(_ request: inout Request, limit: Int) async throws -> AdminBody {
        let buffer = try await request.collectBody(upTo: limit)
        return try self.parse(Array(buffer.readableBytesView), contentType: request.headers[.contentType] ?? "")
    }

    /// Parses a body already read, by its `Content-Type` header value (empty when absent).
    ///
    /// - Throws: ``GatewayError`` (400 or 415) naming what is wrong.
    package static func parse(_ bytes: [UInt8], contentType: String) throws -> AdminBody {
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return AdminBody(fields: [:], fromForm: false)
        }
        let isJSON = mediaType == "application/json" || mediaType.isEmpty || mediaType.hasSuffix("+json")
        switch isJSON ? "application/json" : mediaType {
        case "application/json":
            if mediaType.isEmpty, bytes.first != UInt8(ascii: "{") {
                throw GatewayError(status: 415, message: "Unsupported Content-Type: send application/json, "
                    + "application/x-www-form-urlencoded or multipart/form-data")
            }
            let json: JSON
            do {
                json = try JSONParser.parse(bytes)
            } catch {
                throw GatewayError.badRequest("Cannot parse JSON body: \(error)")
            }
            guard case .object(let o) = json else { throw GatewayError.badRequest("Cannot parse JSON body: expected an object") }
            return AdminBody(fields: o, fromForm: false)
        case "application/x-www-form-urlencoded":
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw GatewayError.badRequest("Cannot parse form body: invalid UTF-8")
            }
            return AdminBody(fields: try FormFields.decode(FormFields.pairs(text, plusIsSpace: true)), fromForm: true)
        case "multipart/form-data":
            guard let boundary = Multipart.boundary(contentType) else {
                throw GatewayError.badRequest("Cannot parse multipart body: missing boundary (or longer than 70 characters)")
            }
            return AdminBody(fields: try FormFields.decode(try Multipart.parse(bytes, boundary: boundary)), fromForm: true)
        default:
            throw GatewayError(status: 415, message: "Unsupported Content-Type '\(mediaType)': send application/json, "
                + "application/x-www-form-urlencoded or multipart/form-data")
        }
    }
}

/// Kong's form field names: `a.b=1` nests, `a[]=x` appends, `a[2]=x` places, a repeated `a=x` collects into an array.
enum FormFields {
    enum Segment: Equatable {
        case key(String)
        case append
        case index(Int)
    }

    static func pairs(_ text: String, plusIsSpace: Bool) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { part in
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = PercentDecoding.decode(String(kv[0]), plusIsSpace: plusIsSpace)
            let value = kv.count > 1 ? PercentDecoding.decode(String(kv[1]), plusIsSpace: plusIsSpace) : ""
            return (key, value)
        }
    }

    static func segments(_ key: String) throws -> [Segment] {
        // Bytes, not Characters: the delimiters are ASCII, and a Character costs 16 bytes per byte of a long name.
        let bytes = Array(key.utf8)
        var out: [Segment] = []
        var start = 0
        var i = 0
        func tooDeep() -> GatewayError {
            GatewayError.badRequest("invalid form field name '\(key.prefix(64))…': more than \(self.maxSegments) levels")
        }
        func flush(_ end: Int) {
            if end > start { out.append(.key(String(decoding: bytes[start..<end], as: UTF8.self))) }
        }
        while i < bytes.count {
            guard out.count <= self.maxSegments else { throw tooDeep() }
            let c = bytes[i]
            if c == UInt8(ascii: ".") {
                flush(i)
                start = i + 1
            } else if c == UInt8(ascii: "[") {
                flush(i)
                guard let close = bytes[i...].firstIndex(of: UInt8(ascii: "]")) else {
                    throw GatewayError.badRequest("invalid form field name '\(key.prefix(64))': unbalanced '['")
                }
                let inner = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
                if inner.isEmpty {
                    out.append(.append)
                } else if let n = Int(inner), n >= 0, n < 100_000 {
                    out.append(.index(n))
                } else {
                    out.append(.key(inner))
                }
                i = close
                start = i + 1
            }
            i += 1
        }
        flush(bytes.count)
        guard out.count <= self.maxSegments else { throw tooDeep() }
        guard case .key? = out.first else {
            throw GatewayError.badRequest("invalid form field name '\(key.prefix(64))'")
        }
        return out
    }

    /// Deepest nesting a field name may ask for (`a.b[0].c` is 4): input shapes are a few levels deep, and the
    /// bound keeps a hostile name from costing one stack frame per segment.
    static let maxSegments = 32

    static func decode(_ pairs: [(String, String)]) throws -> JSONObject {
        let root = Node()
        root.object = [:]
        for (k, v) in pairs {
            try self.insert(root, try self.segments(k)[...], v, key: k)
        }
        return root.json.objectValue ?? [:]
    }

    /// A value being built, changed in place (a class with one optional per shape, never an enum payload that a
    /// pending copy would make shared): each field costs the same however many came before it. At most one of the
    /// three is set; none is null.
    private final class Node {
        var string: String?
        var array: [Node]?
        var object: [String: Node]?

        init(string: String? = nil) { self.string = string }

        var json: JSON {
            if let string { return .string(string) }
            if let array { return .array(array.map(\.json)) }
            if let object { return .object(JSONObject(object, value: \.json)) }
            return .null
        }
    }

    private static func insert(_ node: Node, _ segs: ArraySlice<Segment>, _ value: String, key: String) throws {
        func conflict() -> GatewayError { GatewayError.badRequest("form field '\(key.prefix(64))' conflicts with another field") }
        guard let first = segs.first else {
            // Leaf: a repeated plain key collects into an array.
            if node.object != nil { throw conflict() }
            if let existing = node.string {
                node.string = nil
                node.array = [Node(string: existing), Node(string: value)]
            } else if node.array != nil {
                node.array?.append(Node(string: value))
            } else {
                node.string = value
            }
            return
        }
        let rest = segs.dropFirst()
        let member: String
        switch first {
        case .key(let name):
            member = name
        case .index(let n):
            // Indexed entries are kept as an object keyed by index; validation orders them into an array.
            member = String(n)
        case .append:
            if node.object != nil { throw conflict() }
            if let existing = node.string {
                node.string = nil
                node.array = [Node(string: existing)]
            } else if node.array == nil {
                node.array = []
            }
            let element = Node()
            try self.insert(element, rest, value, key: key)
            node.array?.append(element)
            return
        }
        if node.string != nil || node.array != nil { throw conflict() }
        if node.object == nil { node.object = [:] }
        if let child = node.object?[member] {
            try self.insert(child, rest, value, key: key)
        } else {
            let child = Node()
            try self.insert(child, rest, value, key: key)
            node.object?[member] = child
        }
    }
}

/// RFC 3986 percent-decoding; with `plusIsSpace`, form encoding's `+` for space.
enum PercentDecoding {
    static func decode(_ s: String, plusIsSpace: Bool) -> String {
        var out: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            let c = u[i]
            if c == UInt8(ascii: "%"), i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else if c == UInt8(ascii: "+"), plusIsSpace {
                out.append(0x20)
                i += 1
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// A minimal `multipart/form-data` reader: each part's `name` and its content as text.
enum Multipart {
    static func boundary(_ contentType: String) -> String? {
        for param in contentType.split(separator: ";").dropFirst() {
            let kv = param.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var v = kv[1].trimmingCharacters(in: .whitespaces)
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
            // RFC 2046 §5.1.1: 1 to 70 characters (the search for it is linear in the body times its length).
            return v.isEmpty || v.utf8.count > 70 ? nil : v
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) throws -> [(String, String)] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [(String, String)] = []
        var positions: [Int] = []
        var i = 0
        while let p = find(delimiter, in: body, from: i) {
            positions.append(p)
            i = p + delimiter.count
        }
        // Only the close delimiter (`--B--`): a form with no fields, like an empty body.
        if positions.count == 1, let p = positions.first, body.count >= p + delimiter.count + 2,
            body[p + delimiter.count] == UInt8(ascii: "-"), body[p + delimiter.count + 1] == UInt8(ascii: "-")
        {
            return []
        }
        guard positions.count >= 2 else { throw GatewayError.badRequest("Cannot parse multipart body: no parts found") }
        for (a, b) in zip(positions, positions.dropFirst()) {
            var start = a + delimiter.count
            if start + 1 < body.count, body[start] == 0x0D, body[start + 1] == 0x0A { start += 2 }
            var end = b
            if end >= 2, body[end - 2] == 0x0D, body[end - 1] == 0x0A { end -= 2 }
            guard start <= end else { continue }
            let part = Array(body[start..<end])
            guard let split = find([0x0D, 0x0A, 0x0D, 0x0A], in: part, from: 0) else {
                throw GatewayError.badRequest("Cannot parse multipart body: part without headers")
            }
            let headers = String(decoding: part[..<split], as: UTF8.self)
            let content = part[(split + 4)...]
            guard let name = self.fieldName(headers) else {
                throw GatewayError.badRequest("Cannot parse multipart body: part without a name")
            }
            guard let text = String(validating: content, as: UTF8.self) else {
                throw GatewayError.badRequest("multipart field '\(name)' is not UTF-8 text")
            }
            parts.append((name, text))
        }
        return parts
    }

    private static func fieldName(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            for param in line.split(separator: ";").dropFirst() {
                let kv = param.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == "name" else { continue }
                var v = kv[1].trimmingCharacters(in: .whitespaces)
                if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                return v
            }
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// The query string of an admin request, decoded.
struct AdminQuery: Sendable {
    var values: [String: String] = [:]

    init(_ request: Request) {
        for (k, v) in FormFields.pairs(request.uri.query ?? "", plusIsSpace: true) { self.values[k] = v }
    }

    subscript(_ key: String) -> String? { self.values[key] }

    /// `format=json|yaml` of the export endpoints (nil when absent); anything else is refused, naming the parameter.
    func format() throws -> String? {
        guard let f = self.values["format"] else { return nil }
        guard f == "json" || f == "yaml" else {
            throw GatewayError.invalidOptions("invalid option (format: expected one of: json, yaml)",
                                              fields: ["format": "expected one of: json, yaml"])
        }
        return f
    }

    var isTruthy: (String) -> Bool {
        { key in
            guard let v = self.values[key]?.lowercased() else { return false }
            return v == "1" || v == "true" || v == "yes" || v == "on"
        }
    }
}
