/* log.c — stderr/syslog logging with levels (see edge/log.h) */
#include <edge/log.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *const level_names[] = {
	[EDGE_LOG_ERR] = "err",	  [EDGE_LOG_WARNING] = "warning", [EDGE_LOG_NOTICE] = "notice",
	[EDGE_LOG_INFO] = "info", [EDGE_LOG_DEBUG] = "debug",
};
static const int syslog_prio[] = {
	[EDGE_LOG_ERR] = LOG_ERR,	[EDGE_LOG_WARNING] = LOG_WARNING,
	[EDGE_LOG_NOTICE] = LOG_NOTICE, [EDGE_LOG_INFO] = LOG_INFO,
	[EDGE_LOG_DEBUG] = LOG_DEBUG,
};

static enum edge_log_level cur_level = EDGE_LOG_INFO;
static bool use_syslog;

const char *edge_log_level_name(enum edge_log_level level)
{
	if ((unsigned)level > EDGE_LOG_DEBUG)
		return "?";
	return level_names[level];
}

int edge_log_level_parse(const char *s, enum edge_log_level *ret_level)
{
	for (unsigned i = 0; i <= EDGE_LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret_level = (enum edge_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_init(const char *ident, enum edge_log_level level, bool to_syslog)
{
	cur_level = level;
	use_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum edge_log_level level)
{
	cur_level = level;
}

enum edge_log_level log_get_level(void)
{
	return cur_level;
}

__attribute__((format(printf, 2, 0))) static void vlog(enum edge_log_level level, const char *fmt,
						       va_list ap, const char *suffix)
{
	char msg[2048];
	struct timespec ts;
	struct tm tm;

	if (level > cur_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_syslog) {
		syslog(syslog_prio[level], "%s%s%s", msg, suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* one fprintf per message: stdio locks the stream for the call */
	fprintf(stderr, "%02d:%02d:%02d.%03ld %-7s %s%s%s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, level_names[level], msg, suffix ? ": " : "",
		suffix ? suffix : "");
}

void log_msg(enum edge_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap, NULL);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(EDGE_LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

#define LOG_FN(fn, lvl)                   \
	void fn(const char *fmt, ...)     \
	{                                 \
		va_list ap;               \
		va_start(ap, fmt);        \
		vlog(lvl, fmt, ap, NULL); \
		va_end(ap);               \
	}
LOG_FN(log_warnx, EDGE_LOG_WARNING)
LOG_FN(log_notice, EDGE_LOG_NOTICE)
LOG_FN(log_info, EDGE_LOG_INFO)
LOG_FN(log_debug, EDGE_LOG_DEBUG)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(EDGE_LOG_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(EDGE_LOG_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
