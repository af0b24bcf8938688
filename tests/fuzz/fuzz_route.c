/*
 * fuzz_route.c - libFuzzer target for the request-path side of access
 * control: the route matcher over the application's own table, capture
 * decoding, scope names and the RFC 3339 times of token and upload-URL
 * expiries. Oracles: a matched row's captures lie inside the path and
 * never span a "/" (unless a {rest*}); a decoded one-segment capture holds
 * no "/" or NUL; a time that parses formats and parses back to itself
 * (to the millisecond).
 */
#include "access/scope.h"
#include "access/tokens.h"
#include "api/app.h"
#include "api/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096], out[4096];
	const struct px_route *t;
	struct px_call c;
	size_t n;
	int64_t us, us2;
	char when[32];

	if (size >= sizeof(path))
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	t = px_app_routes(&n);
	for (size_t i = 0; i < n; i++) {
		if (!px_route_match(t[i].pattern, path, &c))
			continue;
		for (int k = 0; k < c.nargs; k++) {
			char name[64];

			if (c.args[k].val < path ||
			    c.args[k].val + c.args[k].nval > path + strlen(path) ||
			    !c.args[k].nval)
				__builtin_trap();
			if (!c.args[k].rest && memchr(c.args[k].val, '/', c.args[k].nval))
				__builtin_trap();
			snprintf(name, sizeof(name), "%.*s", (int)c.args[k].nname,
				 c.args[k].name);
			if (px_call_arg(&c, name, out, sizeof(out)) == 0 &&
			    (!c.args[k].rest && strchr(out, '/')))
				__builtin_trap();
		}
	}
	px_scope_parse(path, size);
	if (px_time_parse(path, &us) == 0 && us >= 0 &&
	    us < (int64_t)253402300799 * 1000000) {
		px_time_format(us, when);
		if (px_time_parse(when, &us2) || us2 / 1000 != us / 1000)
			__builtin_trap();
	}
	return 0;
}
