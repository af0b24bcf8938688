/*
 * fuzz_options.c - libFuzzer target for delivery option strings, their
 * canonical form (which must parse back to the same canonical form), and
 * signature verification of arbitrary query values.
 */
#include "delivery/options.h"
#include "delivery/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[1024], *keys[] = {"k"};
	struct px_opts o, o2;
	struct px_errbuf eb = {0};
	struct px_buf c1, c2;
	struct px_xform x;
	int64_t exp;
	bool vary;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	px_sign_verify(keys, 1, "/img/a/public", s, s, 0, &exp, &eb);
	px_opts_init(&o);
	if (px_opts_parse(s, &o, &eb))
		return 0;
	{
		struct px_image_info in = {640, 480, 1, PX_FMT_JPEG, false, 1};

		px_opts_resolve(&o, &in, s, 0, &x, &vary);
	}
	px_buf_init(&c1, 0);
	px_buf_init(&c2, 0);
	px_opts_canonical(&o, &c1);
	px_opts_init(&o2);
	if (px_opts_parse(c1.data ? (char *)c1.data : "", &o2, &eb))
		__builtin_trap();
	px_opts_canonical(&o2, &c2);
	if (c1.len != c2.len || (c1.len && memcmp(c1.data, c2.data, c1.len)))
		__builtin_trap();
	px_buf_release(&c1);
	px_buf_release(&c2);
	return 0;
}
