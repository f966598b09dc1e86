/*
 * dashboard.h — the browser dashboard's static files (orchestrator/dashboard/),
 * compiled into sdwan-orchd by dashboard/embed.cmake (private to the orchestrator).
 *
 * Threading: constant data, read from any thread.
 * Ownership: static storage; never freed.
 */
#ifndef ORCHD_DASHBOARD_H
#define ORCHD_DASHBOARD_H

#include <stddef.h>

struct orchd_asset {
	const char *name; /* "app.js" */
	const char *ctype;
	const unsigned char *data;
	size_t len;
};

extern const struct orchd_asset orchd_assets[];
extern const size_t orchd_n_assets;

#endif
