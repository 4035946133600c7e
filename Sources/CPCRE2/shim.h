#ifndef PORTCULLIS_CPCRE2_SHIM_H
#define PORTCULLIS_CPCRE2_SHIM_H
// 8-bit code units: the functions are reached by their `_8` names (the unsuffixed ones are macros).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/// PCRE2_ZERO_TERMINATED is a cast expression Swift cannot import.
static inline size_t portcullis_pcre2_unset(void) { return PCRE2_UNSET; }
#endif
