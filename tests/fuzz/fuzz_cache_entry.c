/*
 * fuzz_cache_entry.c - libFuzzer target for the disk cache entry format.
 *
 * The input is a file as the disk tier would read it back: parsed against
 * its own size and, when the header is accepted, verified. Whatever the
 * parser accepts must re-format to the same header (a round trip), and an
 * accepted file whose checksum matches must carry exactly its body.
 */
#include "cache/entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_cache_entry e;
	struct px_buf again;

	if (px_cache_entry_parse(data, size, size, &e))
		return 0;
	if (e.hlen + e.blen != size)
		__builtin_trap();
	if (!px_cache_entry_verify(data, size, &e))
		return 0;
	px_buf_init(&again, 0);
	if (px_cache_entry_format(e.key, e.ctype, data + e.hlen, (size_t)e.blen,
				  &again) ||
	    again.len != e.hlen || memcmp(again.data, data, e.hlen))
		__builtin_trap();
	px_buf_release(&again);
	return 0;
}
