/*
 * edge/lkg.h — the last-known-good bundle on disk.
 *
 * Purpose: every bundle applied successfully is saved (protobuf binary) as
 * <state_dir>/EDGE_LKG_FILE, atomically: written to a temp file in the same
 * directory, fsync'ed, renamed over the old one, and the directory fsync'ed,
 * so a crash or power cut at any moment leaves either the old or the new
 * bundle, whole.  On start the daemon comes up from it before any
 * orchestrator answers (DESIGN §9).
 * Threading: none.  Ownership: edge_lkg_load() returns a malloc'ed buffer
 * owned by the caller.  Errors: 0 or -errno; the library never logs.
 */
#ifndef EDGE_LKG_H
#define EDGE_LKG_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_LKG_FILE "bundle.pb"

/* creates state_dir (0700) if missing */
int edge_lkg_save(const char *state_dir, const uint8_t *buf, size_t len);
/* -ENOENT if there is none */
int edge_lkg_load(const char *state_dir, uint8_t **ret_buf, size_t *ret_len);
/* remove it (tests, factory reset); 0 if there was none */
int edge_lkg_remove(const char *state_dir);

#endif /* EDGE_LKG_H */
