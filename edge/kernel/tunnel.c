/* tunnel.c — ESP overhead and driver lookup (see edge/tunnel.h) */
#include <edge/tunnel.h>

#include <string.h>

#define IPV4_HDR  20
#define UDP_HDR	  8
#define ESP_HDR	  8 /* SPI + sequence number */
#define ESP_TRAIL 2 /* pad length + next header */
#define WORST_IV  16
#define WORST_PAD 15
#define WORST_ICV 32

static bool token_is(const char *t, size_t n, const char *s)
{
	return strlen(s) == n && strncmp(t, s, n) == 0;
}

static bool token_starts(const char *t, size_t n, const char *s)
{
	size_t l = strlen(s);

	return n >= l && strncmp(t, s, l) == 0;
}

static bool token_ends(const char *t, size_t n, const char *s)
{
	size_t l = strlen(s);

	return n >= l && strncmp(t + n - l, s, l) == 0;
}

uint32_t edge_esp_overhead(const char *p, bool udp_encap)
{
	uint32_t iv = 0, pad = 0, icv = 0;
	bool aead = false, cipher = false, integ = false;
	const char *t = p;

	while (*t) {
		size_t n = strcspn(t, "-");

		if (token_starts(t, n, "aes") &&
		    (token_ends(t, n, "gcm16") || token_ends(t, n, "ccm16"))) {
			aead = cipher = true;
			iv = 8, pad = 3, icv = 16;
		} else if (token_starts(t, n, "aes") &&
			   (token_ends(t, n, "gcm12") || token_ends(t, n, "ccm12"))) {
			aead = cipher = true;
			iv = 8, pad = 3, icv = 12;
		} else if (token_starts(t, n, "aes") &&
			   (token_ends(t, n, "gcm8") || token_ends(t, n, "ccm8"))) {
			aead = cipher = true;
			iv = 8, pad = 3, icv = 8;
		} else if (token_is(t, n, "chacha20poly1305")) {
			aead = cipher = true;
			iv = 8, pad = 3, icv = 16;
		} else if (token_starts(t, n, "aes") && token_ends(t, n, "ctr")) {
			cipher = true;
			iv = 8, pad = 3;
		} else if (token_is(t, n, "aes") || token_is(t, n, "aes128") ||
			   token_is(t, n, "aes192") || token_is(t, n, "aes256")) {
			cipher = true; /* CBC */
			iv = 16, pad = 15;
		} else if (token_is(t, n, "sha1") || token_is(t, n, "sha") ||
			   token_is(t, n, "aesxcbc")) {
			integ = true;
			icv = icv > 12 ? icv : 12;
		} else if (token_is(t, n, "sha256")) {
			integ = true;
			icv = icv > 16 ? icv : 16;
		} else if (token_is(t, n, "sha384")) {
			integ = true;
			icv = icv > 24 ? icv : 24;
		} else if (token_is(t, n, "sha512")) {
			integ = true;
			icv = icv > 32 ? icv : 32;
		}
		t += n;
		if (*t == '-')
			t++;
	}
	if (!cipher)
		iv = WORST_IV, pad = WORST_PAD;
	if (!aead && !integ)
		icv = WORST_ICV;
	return IPV4_HDR + (udp_encap ? UDP_HDR : 0) + ESP_HDR + iv + pad + ESP_TRAIL + icv;
}

const struct edge_tunnel_ops *edge_tunnel_ops_get(enum edge_driver driver)
{
	switch (driver) {
	case EDGE_DRIVER_VXLAN:
		return &edge_tunnel_vxlan_ops;
	case EDGE_DRIVER_XFRMI:
		return &edge_tunnel_xfrmi_ops;
	}
	return NULL;
}
