/* libFuzzer harness for the STAMP codec, the reflector and the session's reply
 * path.  The first input octet picks the mode; the rest is the packet.
 * Oracles besides the sanitizers: whatever the strict decoder accepts
 * re-encodes to the same octets, and nothing is written on a reject. */
#include <pathmon/reflector.h>
#include <pathmon/session.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_key[] = "fuzz-key";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	const uint8_t *pkt = data + 1;
	size_t len = size - 1;
	struct pm_key key;
	if (pm_key_init(&key, (const uint8_t *)fuzz_key, sizeof(fuzz_key) - 1) < 0)
		abort();
	const struct pm_key *k = (sel & 1) ? &key : NULL;
	unsigned flags = (sel & 2) ? PM_DECODE_LENIENT : 0;
	uint8_t out[PM_STAMP_LEN_MAX];

	struct pm_sender_pkt sp;
	memset(&sp, 0xa5, sizeof(sp));
	if (pm_stamp_decode_sender(pkt, len, k, flags, &sp) == PM_REJECT_NONE) {
		int n = pm_stamp_encode_sender(&sp, k, out, sizeof(out));
		if (n != (int)pm_stamp_len(k))
			abort();
		if (!flags && (len != (size_t)n || memcmp(out, pkt, len) != 0))
			abort();
	}
	struct pm_reflector_pkt rp;
	if (pm_stamp_decode_reflector(pkt, len, k, flags, &rp) == PM_REJECT_NONE) {
		int n = pm_stamp_encode_reflector(&rp, k, out, sizeof(out));
		if (n != (int)pm_stamp_len(k))
			abort();
		if (!flags && (len != (size_t)n || memcmp(out, pkt, len) != 0))
			abort();
	}

	struct pm_reflector r;
	if (pm_reflector_init(&r, k, 1, flags) < 0)
		abort();
	size_t out_len = 0;
	enum pm_reject rej = pm_reflect(&r, pkt, len, 1000, 2000, 64, out, sizeof(out), &out_len);
	if (rej == PM_REJECT_NONE && out_len != pm_stamp_len(k))
		abort();
	if (rej != PM_REJECT_NONE && (rej >= PM_REJECT_COUNT_ || r.rejected[rej] != 1))
		abort();
	pm_reflector_wipe(&r);

	/* a session with a few probes in flight gets the input as a reply */
	struct pm_session_cfg cfg;
	pm_session_cfg_default(&cfg);
	cfg.key = k;
	cfg.decode_flags = flags;
	cfg.history = 8;
	cfg.window_count = 4;
	cfg.window_time_max = 4;
	struct pm_session *s;
	if (pm_session_new(&cfg, 0, &s) < 0)
		abort();
	for (int i = 0; i < 3; i++)
		pm_session_build_probe(s, (pm_ns)i * 50000000, out, sizeof(out));
	rej = pm_session_handle_reply(s, pkt, len, 120000000);
	pm_session_tick(s, 5000000000ULL);
	struct pm_metrics m;
	pm_session_metrics(s, &m);
	if (m.counters.received + m.counters.lost != 3 || m.counters.received > 1)
		abort();
	if (rej != PM_REJECT_NONE && m.counters.rejected[rej] != 1)
		abort();
	pm_session_free(s);
	pm_key_wipe(&key);
	return 0;
}
