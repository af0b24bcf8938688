/*
 * test_options.c - the error messages of delivery options tell the truth:
 * every range and every list of words an "expected ..." message states
 * is what the parser accepts, at both ends; unknown names get the
 * nearest known one.
 */
#include "t.h"

#include "delivery/options.c"

static int try(const char *name, const char *value)
{
	struct px_errbuf eb = {0};
	struct px_opts o;
	char s[256];

	px_opts_init(&o);
	snprintf(s, sizeof(s), "%s=%s", name, value);
	return px_opts_parse(s, &o, &eb);
}

static void check_range(const char *name, const char *acc)
{
	double lo, hi;
	char v[64];
	bool integer = !strncmp(acc, "an integer", 10);

	if (sscanf(acc + (integer ? 16 : 14), "%lf to %lf", &lo, &hi) != 2) {
		T_OK(!"unparsable range");
		return;
	}
	snprintf(v, sizeof(v), "%g", lo);
	T_EQ(try(name, v), 0);
	snprintf(v, sizeof(v), "%g", hi);
	T_EQ(try(name, v), 0);
	snprintf(v, sizeof(v), "%g", integer ? lo - 1 : lo - 0.001);
	T_EQ(try(name, v), PX_EINVAL);
	snprintf(v, sizeof(v), "%g", integer ? hi + 1 : hi + 0.001);
	T_EQ(try(name, v), PX_EINVAL);
}

static void check_words(const char *name, const char *acc)
{
	char buf[256], *tok, *save;

	px_strlcpy(buf, acc, sizeof(buf));
	for (tok = strtok_r(buf, " ,()", &save); tok; tok = strtok_r(NULL, " ,()", &save)) {
		if (!strcmp(tok, "or"))
			continue;
		if (try(name, tok)) {
			T_OK(!"a listed word does not parse");
			fprintf(stderr, "  %s=%s\n", name, tok);
		}
	}
}

static void run(void)
{
	T_CASE("every option says what it accepts, and that is true") {
		for (size_t i = 0; i < PX_ARRAY_LEN(opts); i++) {
			const char *acc = opts[i].accepts;

			T_OK(acc && *acc);
			if (!strncmp(acc, "an integer from", 15) ||
			    !strncmp(acc, "a number from", 13))
				check_range(opts[i].name, acc);
			else if (!strpbrk(acc, ";#") && !strstr(acc, "XxY"))
				check_words(opts[i].name, acc);
		}
	}

	T_CASE("a bad value's message lists what is accepted") {
		struct px_errbuf eb = {0};
		struct px_opts o;

		px_opts_init(&o);
		T_EQ(px_opts_parse("w=0", &o, &eb), PX_EINVAL);
		T_STREQ(eb.msg, "invalid value \"0\" for option \"width\": expected an integer from 1 to 8192, or auto");
		T_EQ(px_opts_parse("fit=fill", &o, &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "scale-down, contain, cover, crop, pad or squeeze") != NULL);
	}

	T_CASE("unknown options suggest the nearest") {
		struct px_errbuf eb = {0};
		struct px_opts o;

		px_opts_init(&o);
		T_EQ(px_opts_parse("widht=300", &o, &eb), PX_EINVAL);
		T_STREQ(eb.msg, "unknown option \"widht\"; did you mean \"width\"?");
		T_EQ(px_opts_parse("qualty=5", &o, &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "did you mean \"quality\"?") != NULL);
		T_EQ(px_opts_parse("zzzzzz=5", &o, &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "did you mean") == NULL);
		T_EQ(px_opts_check_names("w,h,fit,f", &eb), 0);
		T_EQ(px_opts_check_names("w,hieght", &eb), PX_EINVAL);
		T_OK(strstr(eb.msg, "did you mean \"height\"?") != NULL);
	}
}
