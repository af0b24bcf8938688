/*
 * fuzz_forwarded.c - libFuzzer target for the client-identity parsers:
 * Forwarded / X-Forwarded-For chains and single hops.
 *
 * The first byte picks the header; the rest is its value. Every peer is
 * trusted, so the whole chain is walked. Oracle: the client (and any
 * single hop that parses) has a text form that parses back to the same
 * address.
 */
#include "guard/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_cidr trusted[PX_MAX_TRUSTED];
	struct px_ip peer, client, back;
	char *text, out[64];
	int ntrusted = 0;

	if (!size)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	px_cidr_list_parse("0.0.0.0/0,::/0", trusted, PX_MAX_TRUSTED, &ntrusted,
			   NULL);
	if (px_ip_parse("10.0.0.1", &peer))
		abort();
	px_client_resolve(&peer, data[0] & 1 ? text : NULL,
			  data[0] & 1 ? NULL : text, trusted, ntrusted, &client);
	px_ip_format(&client, out, sizeof(out));
	if (px_hop_parse(out, strlen(out), &back) ||
	    memcmp(&back, &client, sizeof(back)))
		abort();
	/* the same bytes as one hop: its text form parses back to it */
	if (px_hop_parse(text, strlen(text), &client) == 0) {
		px_ip_format(&client, out, sizeof(out));
		if (px_hop_parse(out, strlen(out), &back) ||
		    memcmp(&back, &client, sizeof(back)))
			abort();
		px_client_key(&client, &back);
		px_client_key_format(&back, out, sizeof(out));
	}
	free(text);
	return 0;
}
