/*
 * test_device.c - device classes: Sec-CH-UA-Mobile before the
 * User-Agent, malformed hints ignored, the rules on hand-picked current
 * browsers, and accuracy on the published list in tests/data/useragents
 * (provenance in its README.md), reported per class.
 */
#include "t.h"

#include "delivery/device.c"

static const char *data_file(void)
{
	const char *z = getenv("PX_UA_DATA");

	return z && *z ? z : "tests/data/useragents/mobile-detect.tsv";
}

static void run(void)
{
	bool ua;

	T_CASE("Sec-CH-UA-Mobile decides when well-formed") {
		const char *iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

		T_EQ(px_device_classify("?1", NULL, &ua), PX_DEVICE_MOBILE);
		T_OK(!ua);
		T_EQ(px_device_classify("?0", iphone, &ua), PX_DEVICE_DESKTOP);
		T_OK(!ua);
		T_EQ(px_device_classify(" ?1 ", NULL, &ua), PX_DEVICE_MOBILE);
		static const char *bad[] = {"", "1", "?2", "?1x", "? 1", "true", "?"};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			T_EQ(px_device_classify(bad[i], iphone, &ua), PX_DEVICE_MOBILE);
			T_OK(ua);
		}
		T_EQ(px_device_classify(NULL, NULL, &ua), PX_DEVICE_DESKTOP);
		T_OK(ua);
	}

	T_CASE("current browsers") {
		static const struct {
			const char *ua;
			enum px_device want;
		} c[] = {
			{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", PX_DEVICE_DESKTOP},
			{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", PX_DEVICE_DESKTOP},
			{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", PX_DEVICE_DESKTOP},
			{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", PX_DEVICE_MOBILE},
			{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", PX_DEVICE_TABLET},
			{"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", PX_DEVICE_TABLET},
			{"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", PX_DEVICE_MOBILE},
			{"Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", PX_DEVICE_TABLET},
			{"curl/8.5.0", PX_DEVICE_DESKTOP},
			{"", PX_DEVICE_DESKTOP},
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(c); i++)
			T_EQ(px_device_from_ua(c[i].ua), c[i].want);
	}

	T_CASE("names") {
		for (int i = 0; i < PX_DEVICE_COUNT; i++)
			T_EQ(px_device_parse(px_device_name(i)), i);
		T_EQ(px_device_parse("phone"), -1);
		T_EQ(px_device_auto_width(PX_DEVICE_MOBILE), 320);
		T_EQ(px_device_auto_width(PX_DEVICE_TABLET), 768);
		T_EQ(px_device_auto_width(PX_DEVICE_DESKTOP), 960);
	}

	T_CASE("accuracy on the published list") {
		FILE *f = fopen(data_file(), "r");
		char line[4096];
		int n[PX_DEVICE_COUNT] = {0}, ok[PX_DEVICE_COUNT] = {0};
		int total = 0, right = 0;

		T_OK(f != NULL);
		while (f && fgets(line, sizeof(line), f)) {
			char *tab = strchr(line, '\t');
			int want;

			if (line[0] == '#' || !tab)
				continue;
			*tab = '\0';
			tab[strcspn(tab + 1, "\n") + 1] = '\0';
			want = px_device_parse(line);
			T_OK(want >= 0);
			if (want < 0)
				continue;
			n[want]++;
			total++;
			if ((int)px_device_from_ua(tab + 1) == want) {
				ok[want]++;
				right++;
			} else if (getenv("PX_UA_SHOW")) {
				fprintf(stderr, "  want %s got %s: %s\n", line,
					px_device_name(px_device_from_ua(tab + 1)), tab + 1);
			}
		}
		if (f)
			fclose(f);
		for (int i = 0; i < PX_DEVICE_COUNT; i++)
			printf("  %-7s %3d/%3d = %.1f%%\n", px_device_name(i), ok[i],
			       n[i], n[i] ? 100.0 * ok[i] / n[i] : 0);
		printf("  all     %3d/%3d = %.1f%%\n", right, total,
		       total ? 100.0 * right / total : 0);
		T_OK(total >= 300);
		/* the floor docs/RESPONSIVE.md states */
		T_OK(right * 100 >= total * 90);
		for (int i = 0; i < PX_DEVICE_COUNT; i++)
			T_OK(ok[i] * 100 >= n[i] * 80);
	}
}
