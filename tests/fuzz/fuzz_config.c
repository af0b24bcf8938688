/*
 * fuzz_config.c - libFuzzer target for the configuration file parser and
 * the moderation policy text it may carry.
 *
 * The input is written to a memory-backed file and loaded with --config,
 * as `pictor serve --config FILE` would; then its moderation_policy (if
 * any) is parsed against the classifier's classes.
 */
#include "core/config.h"
#include "moderation/policy.h"

#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *classes[] = {"drawing", "hentai", "neutral", "porn",
					"sexy"};
	struct px_errbuf eb = {0};
	struct px_config cfg;
	struct px_policy pol;
	char path[64], *argv[2];
	const char *rest[1];
	int fd, nrest = 0;

	fd = memfd_create("pictor-fuzz-config", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	argv[0] = "--config";
	argv[1] = path;
	if (px_config_load(&cfg, 2, argv, rest, &nrest, &eb) == 0 &&
	    cfg.moderation_policy)
		px_policy_parse(cfg.moderation_policy, classes, 5, &pol, &eb);
	px_config_release(&cfg);
	close(fd);
	return 0;
}
