/*
 * fuzz_multipart.c - libFuzzer target for the multipart/form-data parser
 * and the Content-Type boundary extraction; filenames cut on character
 * boundaries stay well-formed UTF-8.
 */
#include "api/multipart.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_multipart mp;
	struct px_errbuf eb = {0};
	char ct[256], boundary[80];
	size_t n = size < sizeof(ct) - 1 ? size : sizeof(ct) - 1;
	const uint8_t *nl = memchr(data, '\n', n);

	/* First line: a Content-Type header; the rest: the body. */
	if (nl)
		n = (size_t)(nl - data);
	memcpy(ct, data, n);
	ct[n] = '\0';
	if (px_mp_boundary(ct, boundary, sizeof(boundary)))
		return 0;
	if (px_mp_parse(nl ? nl + 1 : data + size, nl ? size - n - 1 : 0,
			boundary, &mp, &eb) == 0) {
		for (int i = 0; i < mp.nparts; i++)
			if (mp.parts[i].len &&
			    (mp.parts[i].data < data ||
			     mp.parts[i].data + mp.parts[i].len > data + size))
				__builtin_trap();
		/* a filename said to be well-formed is, even cut short */
		for (int i = 0; i < mp.nparts; i++) {
			const char *f = mp.parts[i].filename;

			if (mp.parts[i].has_filename && !mp.parts[i].filename_bad &&
			    !px_utf8_valid(f, strlen(f)))
				__builtin_trap();
		}
	}
	return 0;
}
