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

/* Function-like macros cannot be imported into Swift; these inline wrappers can. */
static inline STACK_OF(X509) *pc_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int pc_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
static inline int pc_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *pc_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline void pc_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }
static inline void pc_OPENSSL_free(void *p) { OPENSSL_free(p); }
#endif
