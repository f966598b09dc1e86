/* tests/lab/fuzz_flowpkt.c — flowmeter packets from the network: decode and account */
#include <lab/flowstats.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_summary r;
	struct lab_flowstats_second sec;
	uint64_t rx = 1700000000000000000ull;

	if (!s)
		return 0;
	/* the input is a sequence of datagrams of LAB_FM_HDR_LEN + 8 bytes each */
	for (size_t off = 0; off + LAB_FM_HDR_LEN <= size; off += LAB_FM_HDR_LEN + 8) {
		struct lab_fm_hdr h;

		if (lab_fm_hdr_decode(data + off, size - off, &h) < 0)
			continue;
		if (h.seq > (1u << 20)) /* keep the bitmap small for the fuzzer */
			h.seq &= 0xfffff;
		if (h.total > (1u << 20))
			h.total &= 0xfffff;
		rx += 1000000;
		lab_flowstats_add(s, &h, LAB_FM_HDR_LEN, rx);
	}
	if (lab_flowstats_summary_get(s, &r) == 0) {
		size_t n = lab_flowstats_seconds(s);

		for (size_t i = 0; i < n && i < 100; i++)
			lab_flowstats_second_get(s, i, &sec);
	}
	lab_flowstats_free(s);
	return 0;
}
