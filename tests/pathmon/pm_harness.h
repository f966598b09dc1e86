/* Test harness: a session and an in-process reflector on a fake clock. */
#ifndef PM_HARNESS_H
#define PM_HARNESS_H

#include <pathmon/reflector.h>
#include <pathmon/session.h>

#define T0     (1764043200ULL * PM_NS_PER_SEC) /* 2025-11-25T04:00:00Z */
#define MS(x)  ((pm_ns)(x)*PM_NS_PER_MSEC)
#define US(x)  ((pm_ns)(x)*PM_NS_PER_USEC)
#define AT(ms) (T0 + MS(ms))

/* Sends the next probe at @t1; the reflector receives it at t1+fwd, answers at
 * +hold; *@reply gets the reflected packet, to be delivered at t1+fwd+hold+bwd.
 * Returns the reply length. */
static inline size_t pmh_probe(struct pm_session *s, struct pm_reflector *r, pm_ns t1, pm_ns fwd,
			       pm_ns hold, uint8_t *reply)
{
	uint8_t req[PM_STAMP_LEN_MAX];
	int n = pm_session_build_probe(s, t1, req, sizeof(req));
	if (n <= 0)
		return 0;
	size_t len = 0;
	if (pm_reflect(r, req, (size_t)n, t1 + fwd, t1 + fwd + hold, 64, reply, PM_STAMP_LEN_MAX,
		       &len) != PM_REJECT_NONE)
		return 0;
	return len;
}

#endif
