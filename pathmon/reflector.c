/* STAMP session-reflector: see pathmon/reflector.h. */
#include <pathmon/reflector.h>

#include <errno.h>
#include <string.h>

int pm_reflector_init(struct pm_reflector *r, const struct pm_key *key, uint16_t errest,
		      unsigned flags)
{
	if (!r || (errest & 0xff) == 0 || (key && key->len > PM_KEY_MAX))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (pm_key_copy(&r->key, key) < 0)
		return -ENOMEM;
	r->errest = errest;
	r->flags = flags;
	return 0;
}

void pm_reflector_wipe(struct pm_reflector *r)
{
	if (r)
		pm_key_wipe(&r->key);
}

enum pm_reject pm_reflect(struct pm_reflector *r, const uint8_t *in, size_t in_len, pm_ns rx_time,
			  pm_ns tx_time, uint8_t ttl, uint8_t *out, size_t out_size,
			  size_t *ret_len)
{
	struct pm_sender_pkt s;
	enum pm_reject rej = pm_stamp_decode_sender(in, in_len, &r->key, r->flags, &s);
	if (rej != PM_REJECT_NONE) {
		r->rejected[rej]++;
		return rej;
	}
	struct pm_reflector_pkt p = {
		.seq = s.seq,
		.ts = pm_ntp_from_ns(tx_time),
		.errest = r->errest & (uint16_t)~PM_ERREST_Z, /* we write NTP format */
		.rx_ts = pm_ntp_from_ns(rx_time),
		.sender_seq = s.seq,
		.sender_ts = s.ts,
		.sender_errest = s.errest,
		.sender_ttl = ttl,
	};
	int n = pm_stamp_encode_reflector(&p, &r->key, out, out_size);
	if (n < 0) {
		/* a caller bug (buffer too small), not the packet's fault */
		r->rejected[PM_REJECT_SHORT]++;
		return PM_REJECT_SHORT;
	}
	r->reflected++;
	*ret_len = (size_t)n;
	return PM_REJECT_NONE;
}
