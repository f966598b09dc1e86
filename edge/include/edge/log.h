/*
 * edge/log.h — the daemon's tiny log API (in the manner of OpenBGPD's log.c).
 *
 * Purpose: one place where sdwan-edged writes messages, to stderr or syslog,
 * filtered by level.  log_warn() appends ": strerror(errno)", log_warnx()
 * does not; fatal()/fatalx() log and exit(1) and are for start-up only.
 * Libraries of edge_core never log: only the daemon's top level (main.c,
 * daemon.c) does, once, with context.
 * Threading: the functions may be called from any thread (each message is one
 * write/syslog call); log_init() must run before other threads exist.
 * Ownership: none.
 */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H

#include <stdbool.h>

enum edge_log_level {
	EDGE_LOG_ERR,
	EDGE_LOG_WARNING,
	EDGE_LOG_NOTICE,
	EDGE_LOG_INFO,
	EDGE_LOG_DEBUG,
};

const char *edge_log_level_name(enum edge_log_level level);
/* "err", "warning", "notice", "info", "debug"; 0 or -EINVAL */
int edge_log_level_parse(const char *s, enum edge_log_level *ret_level);

/* to_syslog false: stderr with a timestamp and level */
void log_init(const char *ident, enum edge_log_level level, bool to_syslog);
void log_set_level(enum edge_log_level level);
enum edge_log_level log_get_level(void);

void log_msg(enum edge_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* EDGE_LOG_H */
