/*
 * edge/errors.h — a list of error messages, each naming the field it is about.
 *
 * Purpose: parsers and validators (local config, bundle) report every error
 * they find in one run, each message carrying the path of the offending field
 * (`underlays[1].gateway: "x" is not an IPv4 address`).
 * Threading: none; one list belongs to one caller.
 * Ownership: the list owns its strings; edge_errors_clear() frees them.  When
 * memory runs out the list remembers that (oom) instead of losing it silently.
 */
#ifndef EDGE_ERRORS_H
#define EDGE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

struct edge_errors {
	char **msg;
	size_t n;
	size_t cap;
	bool oom; /* a message could not be stored */
};

#define EDGE_ERRORS_INIT \
	{                \
		0        \
	}

/* append one message (printf format) */
void edge_errors_addf(struct edge_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* number of errors recorded, counting lost ones */
size_t edge_errors_count(const struct edge_errors *errs);

/* all messages joined with sep into a new string (NULL on ENOMEM) */
char *edge_errors_join(const struct edge_errors *errs, const char *sep);

void edge_errors_clear(struct edge_errors *errs);

#endif /* EDGE_ERRORS_H */
