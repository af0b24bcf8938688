/*
 * token_cli.c - `pictor token create|list|revoke`: the CLI twin of
 * /v1/tokens, working on the data directory's store directly (LMDB lets
 * it run beside a serving daemon; the daemon sees changes on the next
 * request).
 */
#include "access/tokens.h"
#include "catalog/stores.h"
#include "core/config.h"

#include <jansson.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pictor token create --name NAME --scopes S1,S2 [--expires-in SECONDS |\n"
		"                           --expires-on 2030-01-01T00:00:00Z] [--cidrs CIDR,...]\n"
		"       pictor token list\n"
		"       pictor token revoke ID\n"
		"and --data DIR (every option of \"pictor serve\" is accepted).\n\n"
		"create prints the token as JSON with its secret in \"value\": it is\n"
		"shown once and stored only as a hash. Scopes: images:read,\n"
		"images:write, images:delete, variants:write, moderation:review,\n"
		"cache:purge, tokens:write, stats:read, admin.\n");
}

static int print_json(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(o);
	return text ? 0 : PX_ENOMEM;
}

static int print_one(void *ctx, const struct px_token *t)
{
	return print_json(px_token_json(t));
}

static int parse_scope_list(const char *csv, uint32_t *bits)
{
	const char *p = csv;

	*bits = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		enum px_scope s = px_scope_parse(p, n);

		if (s == PX_SCOPE_UNSET) {
			fprintf(stderr, "pictor: unknown scope \"%.*s\"\n", (int)n, p);
			return PX_EINVAL;
		}
		*bits |= PX_SCOPE_BIT(s);
		p += n + (p[n] == ',');
	}
	return *bits ? 0 : PX_EINVAL;
}

/* Take the create options out of argv; the rest goes to the config. */
static int create_opts(int argc, char **argv, struct px_token *t, char **args,
		       int *nargs)
{
	struct px_errbuf eb = {0};
	int64_t now = px_wall_us();

	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--name") && v) {
			if (!*v || strlen(v) > PX_TOKEN_NAME_MAX) {
				fprintf(stderr, "pictor: --name takes 1 to %d bytes\n",
					PX_TOKEN_NAME_MAX);
				return PX_EINVAL;
			}
			px_strlcpy(t->name, v, sizeof(t->name));
		} else if (!strcmp(argv[i], "--scopes") && v) {
			if (parse_scope_list(v, &t->scopes))
				return PX_EINVAL;
		} else if (!strcmp(argv[i], "--expires-in") && v) {
			char *end;
			long long s = strtoll(v, &end, 10);

			if (*end || s < 1) {
				fprintf(stderr, "pictor: --expires-in needs seconds\n");
				return PX_EINVAL;
			}
			t->expires_us = now + (int64_t)s * 1000000;
		} else if (!strcmp(argv[i], "--expires-on") && v) {
			if (px_time_parse(v, &t->expires_us) || t->expires_us <= now) {
				fprintf(stderr, "pictor: --expires-on needs a future UTC time such as 2030-01-01T00:00:00Z\n");
				return PX_EINVAL;
			}
		} else if (!strcmp(argv[i], "--cidrs") && v) {
			if (px_cidr_list_parse(v, t->cidrs, PX_TOKEN_CIDRS_MAX,
					       &t->n_cidrs, &eb)) {
				fprintf(stderr, "pictor: --cidrs: %s\n", eb.msg);
				return PX_EINVAL;
			}
		} else {
			args[(*nargs)++] = argv[i];
			continue;
		}
		i++;
	}
	if (!t->name[0] || !t->scopes) {
		fprintf(stderr, "pictor: token create needs --name and --scopes\n");
		return PX_EINVAL;
	}
	return 0;
}

int px_token_cli(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";
	char secret[PX_TOKEN_SECRET_LEN + 1];
	struct px_tokens *ts = NULL;
	struct px_errbuf eb = {0};
	struct px_stores stores = {0};
	struct px_config cfg;
	struct px_token t;
	const char *rest[2];
	char **args;
	int nargs = 0, nrest = 2, rc = 2;
	bool loaded = false;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke")) {
		usage(stderr);
		return 2;
	}
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return 1;
	memset(&t, 0, sizeof(t));
	if (!strcmp(sub, "create")) {
		if (create_opts(argc - 1, argv + 1, &t, args, &nargs))
			goto out;
	} else {
		for (int i = 1; i < argc; i++)
			args[nargs++] = argv[i];
	}
	if (px_config_load(&cfg, nargs, args, rest, &nrest, &eb)) {
		fprintf(stderr, "pictor: %s\n", eb.msg);
		goto out;
	}
	loaded = true;
	if (nrest != (!strcmp(sub, "revoke") ? 1 : 0)) {
		usage(stderr);
		goto out;
	}
	rc = 1;
	if (px_stores_open(&cfg, PX_STORES_META_ONLY, &stores, &eb) ||
	    px_tokens_new(stores.kv, &ts)) {
		fprintf(stderr, "pictor: %s\n", eb.msg[0] ? eb.msg : "out of memory");
		goto out;
	}
	if (!strcmp(sub, "create")) {
		json_t *o;

		if (px_tokens_create(ts, &t, secret, &eb))
			goto fail;
		o = px_token_json(&t);
		if (o)
			json_object_set_new(o, "value", json_string(secret));
		memset(secret, 0, sizeof(secret));
		rc = print_json(o) ? 1 : 0;
	} else if (!strcmp(sub, "list")) {
		if (px_tokens_list(ts, print_one, NULL, &eb))
			goto fail;
		rc = 0;
	} else {
		if (px_tokens_revoke(ts, rest[0], &eb))
			goto fail;
		printf("revoked %s\n", rest[0]);
		rc = 0;
	}
	goto out;
fail:
	fprintf(stderr, "pictor: %s\n", eb.msg);
out:
	px_tokens_free(ts);
	px_stores_close(&stores);
	if (loaded)
		px_config_release(&cfg);
	free(args);
	return rc;
}
