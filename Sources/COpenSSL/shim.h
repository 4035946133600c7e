#ifndef PORTCULLIS_COPENSSL_SHIM_H
#define PORTCULLIS_COPENSSL_SHIM_H
#include <openssl/opensslv.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/ocsp.h>

/* Function-like macros cannot be imported into Swift; these inline wrappers can. */
static inline STACK_OF(X509) *pc_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int pc_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
static inline int pc_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *pc_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline void pc_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }
static inline void pc_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline void pc_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }

/* Subject alternative names: the GENERAL_NAME union is read through these accessors. */
static inline int pc_sk_GENERAL_NAME_num(const STACK_OF(GENERAL_NAME) *sk) { return sk_GENERAL_NAME_num(sk); }
static inline GENERAL_NAME *pc_sk_GENERAL_NAME_value(const STACK_OF(GENERAL_NAME) *sk, int i) {
    return sk_GENERAL_NAME_value(sk, i);
}
static inline int pc_GENERAL_NAME_type(const GENERAL_NAME *gn) { return gn->type; }
/* The IA5String of a DNS, URI or email name, the OCTET STRING of an IP address; NULL for other types. */
static inline const ASN1_STRING *pc_GENERAL_NAME_string(const GENERAL_NAME *gn) {
    switch (gn->type) {
    case GEN_DNS: return gn->d.dNSName;
    case GEN_URI: return gn->d.uniformResourceIdentifier;
    case GEN_EMAIL: return gn->d.rfc822Name;
    case GEN_IPADD: return gn->d.iPAddress;
    default: return NULL;
    }
}

/* Extended key usage: a STACK_OF(ASN1_OBJECT). */
static inline int pc_sk_ASN1_OBJECT_num(const STACK_OF(ASN1_OBJECT) *sk) { return sk_ASN1_OBJECT_num(sk); }
static inline void pc_EXTENDED_KEY_USAGE_free(EXTENDED_KEY_USAGE *eku) { EXTENDED_KEY_USAGE_free(eku); }

/* Revocation: OCSP responder URLs (X509_get1_ocsp) and CRL distribution points. */
static inline int pc_sk_OPENSSL_STRING_num(const STACK_OF(OPENSSL_STRING) *sk) { return sk_OPENSSL_STRING_num(sk); }
static inline const char *pc_sk_OPENSSL_STRING_value(const STACK_OF(OPENSSL_STRING) *sk, int i) {
    return sk_OPENSSL_STRING_value(sk, i);
}
static inline int pc_sk_DIST_POINT_num(const STACK_OF(DIST_POINT) *sk) { return sk_DIST_POINT_num(sk); }
static inline DIST_POINT *pc_sk_DIST_POINT_value(const STACK_OF(DIST_POINT) *sk, int i) {
    return sk_DIST_POINT_value(sk, i);
}
/* The fullName GENERAL_NAMES of a distribution point; NULL for a relative name or no name. */
static inline GENERAL_NAMES *pc_DIST_POINT_fullname(const DIST_POINT *dp) {
    if (dp == NULL || dp->distpoint == NULL || dp->distpoint->type != 0) return NULL;
    return dp->distpoint->name.fullname;
}
/* Whether a distribution point restricts reasons or names a separate CRL issuer (indirect CRLs). */
static inline int pc_DIST_POINT_is_partial(const DIST_POINT *dp) {
    return dp != NULL && (dp->reasons != NULL || dp->CRLissuer != NULL);
}
/* RFC 2253 name printing with UTF-8 kept as is (XN_FLAG_RFC2253 is a macro of casts). */
static inline unsigned long pc_XN_FLAG_RFC2253_UTF8(void) { return XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB; }
#endif
