import COpenSSL
import GatewayModel

extension CertificateIdentity {
    /// Reads the identity of a parsed leaf, or explains why its names cannot be used safely.
    ///
    /// Refused (``VerificationFailure/Reason/invalidName``): a CN or SAN containing NUL or other control
    /// characters (Kong reads names as C strings, so `evil.com\0.good.com` would be truncated), non-ASCII in
    /// IA5String SANs, an IP SAN that is not 4 or 16 bytes, a subject attribute OpenSSL cannot convert to UTF-8.
    static func read(_ x509: OpaquePointer, der: [UInt8]) -> Result<CertificateIdentity, VerificationFailure> {
        // Subject attributes.
        var attributes: [(type: String, value: String)] = []
        var commonName: String?
        if let name = X509_get_subject_name(x509) {
            for i in 0..<X509_NAME_entry_count(name) {
                guard let entry = X509_NAME_get_entry(name, i) else { continue }
                let type = Self.attributeType(X509_NAME_ENTRY_get_object(entry))
                guard let value = OpenSSLValues.utf8(X509_NAME_ENTRY_get_data(entry)),
                      !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
                else {
                    return .failure(VerificationFailure(.invalidName, "subject \(type) is not clean text", depth: 0))
                }
                attributes.append((type, value))
                if commonName == nil, OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)) == NID_commonName {
                    commonName = value
                }
            }
        }

        // Subject alternative names.
        var sans: [SubjectAltName] = []
        var critical: Int32 = 0
        if let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, &critical, nil) {
            let names = OpaquePointer(raw)
            defer { GENERAL_NAMES_free(names) }
            for i in 0..<pc_sk_GENERAL_NAME_num(names) {
                guard let gn = pc_sk_GENERAL_NAME_value(names, i) else { continue }
                let type = pc_GENERAL_NAME_type(gn)
                let bytes = OpenSSLValues.bytes(pc_GENERAL_NAME_string(gn))
                switch type {
                case GEN_DNS, GEN_URI, GEN_EMAIL:
                    guard !bytes.isEmpty, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                        return .failure(VerificationFailure(.invalidName, "SAN \(i + 1) is not printable ASCII",
                                                            depth: 0))
                    }
                    let text = String(decoding: bytes, as: UTF8.self)
                    sans.append(type == GEN_DNS ? .dns(text) : type == GEN_URI ? .uri(text) : .email(text))
                case GEN_IPADD:
                    guard let text = SubjectAltName.ipText(bytes) else {
                        return .failure(VerificationFailure(.invalidName, "IP SAN \(i + 1) has \(bytes.count) bytes",
                                                            depth: 0))
                    }
                    sans.append(.ip(text))
                default:
                    continue  // otherName, directoryName, registeredID…: not used for matching
                }
            }
        } else if critical == -2 {
            return .failure(VerificationFailure(.invalidExtension, "more than one subjectAltName extension", depth: 0))
        }
        ERR_clear_error()

        let serial = OpenSSLValues.bytes(X509_get0_serialNumber(x509))
        return .success(CertificateIdentity(
            subjectAltNames: sans,
            commonName: commonName,
            subjectDN: Self.kongDistinguishedName(attributes),
            subjectAttributes: attributes,
            serialNumber: serial.map { b in String(b >> 4, radix: 16, uppercase: true)
                + String(b & 0xF, radix: 16, uppercase: true) }.joined(),
            notBefore: OpenSSLValues.unixTime(X509_get0_notBefore(x509)) ?? 0,
            notAfter: OpenSSLValues.unixTime(X509_get0_notAfter(x509)) ?? 0,
            sha256: Digest.sha256Hex(der)
        ))
    }

    /// The attribute's short name (`CN`, `OU`, `emailAddress`…), else its long name, else the dotted OID — the
    /// order lua-resty-openssl uses.
    private static func attributeType(_ object: OpaquePointer?) -> String {
        let nid = OBJ_obj2nid(object)
        if nid != NID_undef {
            if let sn = OBJ_nid2sn(nid) { return String(cString: sn) }
            if let ln = OBJ_nid2ln(nid) { return String(cString: ln) }
        }
        var buffer = [CChar](repeating: 0, count: 128)
        let n = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        guard n > 0 else { return "?" }
        return String(decoding: buffer.prefix(Int(min(n, 127))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
