import COpenSSL
import GatewayModel

/// Owns one OpenSSL `X509*` and frees it when released.
///
/// Not `Sendable`: an `X509` caches extension data lazily, so one instance stays with the task that parsed it.
/// (The ones held by ``TrustStore`` are fully cached at construction and only read afterwards.)
final class X509Certificate {
    let pointer: OpaquePointer

    /// Parses exactly one DER certificate; nil if OpenSSL rejects it or bytes remain after it.
    init?(der: [UInt8]) {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buf -> OpaquePointer? in
            guard let base = buf.baseAddress, buf.count > 0 else { return nil }
            var p: UnsafePointer<UInt8>? = base
            guard let x = d2i_X509(nil, &p, buf.count) else { return nil }
            guard let end = p, end == base + buf.count else {
                X509_free(x)
                return nil
            }
            return x
        }
        guard let parsed else {
            ERR_clear_error()
            return nil
        }
        self.pointer = parsed
        // Compute OpenSSL's cached extension data now (flags, key usage): malformed extensions show up as
        // EXFLAG_INVALID and are rejected by verification.
        _ = X509_get_extension_flags(parsed)
    }

    /// Takes ownership of an already parsed `X509*`.
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { X509_free(self.pointer) }

    /// The DER encoding as OpenSSL holds it.
    var der: [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let len = i2d_X509(self.pointer, &out)
        guard len > 0, let out else { return [] }
        defer { pc_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(len)))
    }
}

/// Small conversions shared by the verifier and the identity reader.
enum OpenSSLValues {
    /// An ASN.1 time as seconds since the epoch; nil if OpenSSL cannot read it.
    static func unixTime(_ t: UnsafePointer<ASN1_TIME>?) -> Int64? {
        guard let t else { return nil }
        var tm = tm()
        guard ASN1_TIME_to_tm(t, &tm) == 1 else { return nil }
        let days = self.daysFromCivil(year: Int64(tm.tm_year) + 1900, month: Int64(tm.tm_mon) + 1,
                                      day: Int64(tm.tm_mday))
        return days * 86_400 + Int64(tm.tm_hour) * 3600 + Int64(tm.tm_min) * 60 + Int64(tm.tm_sec)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The raw content bytes of an ASN.1 string.
    static func bytes(_ s: UnsafePointer<ASN1_STRING>?) -> [UInt8] {
        guard let s, let data = ASN1_STRING_get0_data(s) else { return [] }
        let len = Int(ASN1_STRING_length(s))
        guard len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: len))
    }

    /// An ASN.1 string converted to UTF-8 by OpenSSL (handles BMPString, UniversalString, T61String…).
    static func utf8(_ s: UnsafePointer<ASN1_STRING>?) -> String? {
        guard let s else { return nil }
        var out: UnsafeMutablePointer<UInt8>? = nil
        let len = ASN1_STRING_to_UTF8(&out, s)
        guard len >= 0, let out else {
            ERR_clear_error()
            return nil
        }
        defer { pc_OPENSSL_free(out) }
        return String(validating: UnsafeBufferPointer(start: out, count: Int(len)), as: UTF8.self)
    }

    /// Drains OpenSSL's (thread-local) error queue into one log line.
    static func drainErrors() -> String { CertificateFacts.drainErrors() }
}
