/*
 * fuzz_reclass.c - libFuzzer target for the re-classification request
 * parser (POST /v1/moderation/reclassify).
 *
 * The input is taken as the request body. Oracle: a body that parses
 * names a status that is empty or one of approved, flagged, blocked; its
 * strings fit their fields; a time range is non-empty and positive; a
 * body that does not parse fails with PX_EINVAL, the code
 * "invalid_request" and a message.
 */
#include "moderation/reclass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_reclass_filter f;
	struct px_errbuf eb = {0};
	int rc;

	if (size > 8192)
		return 0;
	rc = px_reclass_parse((const char *)data, size, &f, &eb);
	if (rc) {
		if (rc != PX_EINVAL || !eb.code || strcmp(eb.code, "invalid_request") ||
		    !eb.msg[0])
			abort();
		return 0;
	}
	if (f.status[0] && strcmp(f.status, "approved") &&
	    strcmp(f.status, "flagged") && strcmp(f.status, "blocked"))
		abort();
	if (strlen(f.model) >= sizeof(f.model) ||
	    strlen(f.policy_version) >= sizeof(f.policy_version))
		abort();
	if (f.before_us < 0 || f.after_us < 0 ||
	    (f.before_us && f.after_us && f.after_us >= f.before_us))
		abort();
	return 0;
}
