import Foundation

/// `PORTCULLIS_<FLAG>` environment defaults for command-line options.
enum Environment {
    static func value(_ flag: String) -> String? {
        let name = "PORTCULLIS_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }

    static func string(_ flag: String, default fallback: String) -> String { self.value(flag) ?? fallback }

    static func int(_ flag: String, default fallback: Int) -> Int { self.value(flag).flatMap(Int.init) ?? fallback }

    static func double(_ flag: String, default fallback: Double) -> Double {
        self.value(flag).flatMap(Double.init) ?? fallback
    }

    /// Help text suffix naming the variable.
    static func help(_ text: String, _ flag: String) -> String {
        "\(text) (env: PORTCULLIS_\(flag.uppercased().replacingOccurrences(of: "-", with: "_")))"
    }
}

/// `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces is never implied: an empty host means 127.0.0.1).
struct ListenAddress: Equatable {
    var host: String
    var port: Int

    init?(_ text: String) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = host.isEmpty ? "127.0.0.1" : String(host)
        self.port = port
    }
}
