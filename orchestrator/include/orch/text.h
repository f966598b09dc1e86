/*
 * orch/text.h — text from outside (edges, URLs) made safe to store, log and
 * print: invalid UTF-8 becomes U+FFFD (never dropped), control characters
 * (C0, DEL, C1) become visible escapes ("\x1b", "\u009b"), so no escape
 * sequence reaches an operator's terminal and no newline forges a log line.
 *
 * Threading: pure functions, no state.
 * Ownership: orch_text_clean() returns a malloc'd string (the caller's: free());
 * orch_text_escape() writes into the caller's buffer.
 */
#ifndef ORCH_TEXT_H
#define ORCH_TEXT_H

#include <stdbool.h>
#include <stddef.h>

enum {
	ORCH_TEXT_CTL = 1 << 0,	      /* control characters → \xNN / \u00NN */
	ORCH_TEXT_SPACE = 1 << 1,     /* ' ' and '"' → \x20 / \x22 (space-separated logs) */
	ORCH_TEXT_BACKSLASH = 1 << 2, /* '\' → \\ (escapes stay unambiguous) */
};

/* A clean copy of the first `len` bytes of `in` (stops at a NUL), at most
 * `max_out` bytes long (cut on a character boundary; 0: no limit).  NULL only
 * when out of memory. */
char *orch_text_clean(const char *in, size_t len, unsigned flags, size_t max_out);

/* The same into out[outlen] (always NUL-terminated when outlen > 0); returns
 * the length written. */
size_t orch_text_escape(char *out, size_t outlen, const char *in, size_t len, unsigned flags);

/* true when `s` is valid UTF-8 without control characters (nothing to clean) */
bool orch_text_is_clean(const char *s, size_t len);

/* A duration as operators type it: an integer and a unit s, m, h or d (a bare
 * integer is seconds), 1 second .. max_s; false when malformed or out of range. */
bool orch_duration_parse(const char *s, unsigned long long max_s, unsigned long long *ret_s);

#endif
