/*
 * test_sigv4.c - the SigV4 signer against AWS's published vectors.
 *
 * The suite cases in tests/data/sigv4 (see its README) are parsed from
 * their .req files and must give the .authz line exactly, and the .creq
 * and .sts texts where the suite has them. The two S3 examples from the
 * S3 API reference check the S3 path: x-amz-content-sha256 always signed,
 * the key encoded once.
 */
#include "store/sigv4.h"
#include "core/crypto.h"

#include <strings.h>

#include "t.h"

#define SUITE_KEY "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_KEY "AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256                                                           \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *data_dir(void)
{
	const char *z = getenv("PX_TEST_SIGV4");

	return z && *z ? z : "tests/data/sigv4";
}

/* The whole file as a string, or NULL if it does not exist. */
static char *slurp(const char *name, const char *ext)
{
	char path[512];
	FILE *f;
	struct px_buf b;
	char chunk[4096];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.%s", data_dir(), name, ext);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	px_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		px_buf_add(&b, chunk, n);
	px_buf_add(&b, "", 1);
	fclose(f);
	return (char *)px_buf_detach(&b, NULL);
}

/* A .req file taken apart; every string points into text. */
struct parsed {
	char *text;
	char *method;
	char *path;
	struct px_sigv4_pair query[8];
	size_t nquery;
	struct px_sigv4_pair headers[8];
	size_t nheaders;
	const char *body;
	char amz_date[PX_SIGV4_DATE_LEN + 1];
};

static int parse_req(struct parsed *p, char *text)
{
	char *line, *next, *sp, *q;

	memset(p, 0, sizeof(*p));
	p->text = text;
	p->body = "";
	next = strchr(text, '\n');
	if (next)
		*next++ = '\0';
	/* "METHOD PATH[?QUERY] HTTP/1.1" */
	p->method = text;
	sp = strchr(text, ' ');
	if (!sp)
		return -1;
	*sp = '\0';
	p->path = sp + 1;
	sp = strrchr(p->path, ' ');
	if (!sp)
		return -1;
	*sp = '\0';
	q = strchr(p->path, '?');
	if (q) {
		*q++ = '\0';
		for (char *tok = strtok(q, "&"); tok && p->nquery < 8;
		     tok = strtok(NULL, "&")) {
			char *eq = strchr(tok, '=');

			if (eq)
				*eq++ = '\0';
			p->query[p->nquery++] =
				(struct px_sigv4_pair){tok, eq ? eq : ""};
		}
	}
	while ((line = next) != NULL) {
		char *colon;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '\0') {
			p->body = next ? next : "";
			break;
		}
		colon = strchr(line, ':');
		if (!colon || p->nheaders == 8)
			return -1;
		*colon = '\0';
		p->headers[p->nheaders++] =
			(struct px_sigv4_pair){line, colon + 1};
		if (strcasecmp(line, "x-amz-date") == 0)
			snprintf(p->amz_date, sizeof(p->amz_date), "%s",
				 colon + 1);
	}
	return 0;
}

static void suite_case(const char *name)
{
	static const struct px_sigv4_cred cred = {
		SUITE_KEY, SUITE_SECRET, NULL, "us-east-1", "service"};
	char *req = slurp(name, "req"), *authz = slurp(name, "authz");
	char *creq = slurp(name, "creq"), *sts = slurp(name, "sts");
	char hash[65];
	struct parsed p;
	struct px_sigv4_request r;
	struct px_buf out, b;
	struct px_errbuf eb = {0};

	t_case = name;
	px_buf_init(&out, 0);
	px_buf_init(&b, 0);
	T_OK(req && authz);
	if (!req || !authz || parse_req(&p, req)) {
		T_OK(!"vector file missing or unparsable");
		goto out;
	}
	T_EQ(px_sha256_hex(p.body, strlen(p.body), hash), 0);
	r = (struct px_sigv4_request){p.method, p.path,     p.query,
				      p.nquery, p.headers, p.nheaders,
				      hash};
	T_EQ(px_sigv4_authorization(&r, &cred, p.amz_date, &out, &eb), 0);
	px_buf_add(&out, "", 1);
	T_STREQ((char *)out.data, authz);
	if (creq) {
		T_EQ(px_sigv4_canonical_request(&r, &b, &eb), 0);
		px_buf_add(&b, "", 1);
		T_STREQ((char *)b.data, creq);
	}
	if (creq && sts) {
		px_buf_release(&b);
		T_EQ(px_sha256_hex(creq, strlen(creq), hash), 0);
		T_EQ(px_sigv4_string_to_sign(p.amz_date, "us-east-1",
					     "service", hash, &b),
		     0);
		px_buf_add(&b, "", 1);
		T_STREQ((char *)b.data, sts);
	}
out:
	px_buf_release(&out);
	px_buf_release(&b);
	free(req);
	free(authz);
	free(creq);
	free(sts);
}

/* The value of the Authorization line of px_sigv4_sign_s3() output. */
static const char *authz_line(struct px_buf *b)
{
	char *z;

	px_buf_add(b, "", 1);
	z = strstr((char *)b->data, "authorization: ");
	if (!z)
		return "";
	z += strlen("authorization: ");
	z[strcspn(z, "\n")] = '\0';
	return z;
}

static void s3_examples(void)
{
	static const struct px_sigv4_cred cred = {S3_KEY, S3_SECRET, NULL,
						  "us-east-1", "s3"};
	struct px_errbuf eb = {0};
	struct px_buf b;
	char hash[65];

	T_CASE("s3 GET object example")
	{
		struct px_sigv4_pair h[] = {
			{"Host", "examplebucket.s3.amazonaws.com"},
			{"Range", "bytes=0-9"},
		};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_sign_s3("GET", "/test.txt", NULL, 0, h, 2,
				      EMPTY_SHA256, &cred, "20130524T000000Z",
				      &b, &eb),
		     0);
		T_OK(strstr((char *)b.data, "x-amz-content-sha256: " EMPTY_SHA256
						    "\n") != NULL);
		T_STREQ(authz_line(&b),
			"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"
			"20130524/us-east-1/s3/aws4_request, "
			"SignedHeaders=host;range;x-amz-content-sha256;"
			"x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed3"
			"10bd44f0170aba48dd91039c6036bdb41");
		px_buf_release(&b);
	}
	T_CASE("s3 GET object canonical request hash")
	{
		struct px_sigv4_pair h[] = {
			{"host", "examplebucket.s3.amazonaws.com"},
			{"range", "bytes=0-9"},
			{"x-amz-content-sha256", EMPTY_SHA256},
			{"x-amz-date", "20130524T000000Z"},
		};
		struct px_sigv4_request r = {"GET", "/test.txt", NULL, 0, h, 4,
					     EMPTY_SHA256};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_canonical_request(&r, &b, &eb), 0);
		T_EQ(px_sha256_hex(b.data, b.len, hash), 0);
		T_STREQ(hash, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c4"
			      "8bbb2dc43964946972");
		px_buf_release(&b);
	}
	T_CASE("s3 PUT object example encodes the key once")
	{
		static const char body[] = "Welcome to Amazon S3.";
		struct px_sigv4_pair h[] = {
			{"Host", "examplebucket.s3.amazonaws.com"},
			{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
			{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
		};

		T_EQ(px_sha256_hex(body, strlen(body), hash), 0);
		T_STREQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99"
			      "e42034a8b803f8b072");
		px_buf_init(&b, 0);
		T_EQ(px_sigv4_sign_s3("PUT", "/test$file.text", NULL, 0, h, 3,
				      hash, &cred, "20130524T000000Z", &b,
				      &eb),
		     0);
		T_STREQ(authz_line(&b),
			"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"
			"20130524/us-east-1/s3/aws4_request, "
			"SignedHeaders=date;host;x-amz-content-sha256;"
			"x-amz-date;x-amz-storage-class, Signature=98ad721746"
			"da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108"
			"bd");
		px_buf_release(&b);
	}
	T_CASE("s3 GET bucket lifecycle: an empty query value")
	{
		struct px_sigv4_pair h[] = {
			{"Host", "examplebucket.s3.amazonaws.com"}};
		struct px_sigv4_pair q[] = {{"lifecycle", ""}};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_sign_s3("GET", "/", q, 1, h, 1, EMPTY_SHA256,
				      &cred, "20130524T000000Z", &b, &eb),
		     0);
		T_OK(strstr(authz_line(&b),
			    "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65"
			    "c699e0f91ac7a200a0136783543") != NULL);
		px_buf_release(&b);
	}
	T_CASE("s3 GET bucket: parameters sorted")
	{
		struct px_sigv4_pair h[] = {
			{"Host", "examplebucket.s3.amazonaws.com"}};
		struct px_sigv4_pair q[] = {{"prefix", "J"}, {"max-keys", "2"}};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_sign_s3("GET", "/", q, 2, h, 1, EMPTY_SHA256,
				      &cred, "20130524T000000Z", &b, &eb),
		     0);
		T_OK(strstr(authz_line(&b),
			    "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a5"
			    "34bc59db6670ed5711ef69dc6f7") != NULL);
		px_buf_release(&b);
	}
}

static void pieces(void)
{
	struct px_buf b;
	struct px_errbuf eb = {0};

	T_CASE("uri encoding: once, uppercase hex, slash kept in paths")
	{
		const char *key = "/photos/\xc3\xa9t\xc3\xa9 2013/a+b%2F(1)~x_y-z.jpg";

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_uri_encode(&b, key, strlen(key), true), 0);
		px_buf_add(&b, "", 1);
		T_STREQ((char *)b.data, "/photos/%C3%A9t%C3%A9%202013/a%2Bb"
					"%252F%281%29~x_y-z.jpg");
		px_buf_release(&b);
		px_buf_init(&b, 0);
		T_EQ(px_sigv4_uri_encode(&b, "a/b=c", 5, false), 0);
		px_buf_add(&b, "", 1);
		T_STREQ((char *)b.data, "a%2Fb%3Dc");
		px_buf_release(&b);
	}
	T_CASE("no dot-segment normalisation for S3")
	{
		struct px_sigv4_pair h[] = {{"host", "h"}, {"x-amz-date", "x"}};
		struct px_sigv4_request r = {"GET", "/a/./b/../c//d", NULL, 0,
					     h, 2, EMPTY_SHA256};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_canonical_request(&r, &b, &eb), 0);
		px_buf_add(&b, "", 1);
		T_OK(strncmp((char *)b.data, "GET\n/a/./b/../c//d\n\n", 20) ==
		     0);
		px_buf_release(&b);
	}
	T_CASE("repeated header names are joined in the order given")
	{
		struct px_sigv4_pair h[] = {{"My-Header1", "value2"},
					    {"host", "h"},
					    {"my-header1", " value1 "}};
		struct px_sigv4_request r = {"GET", "/", NULL, 0, h, 3,
					     EMPTY_SHA256};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_canonical_request(&r, &b, &eb), 0);
		px_buf_add(&b, "", 1);
		T_OK(strstr((char *)b.data,
			    "\nhost:h\nmy-header1:value2,value1\n\n"
			    "host;my-header1\n") != NULL);
		px_buf_release(&b);
	}
	T_CASE("bad headers are refused, never signed")
	{
		struct px_sigv4_pair h1[] = {{"bad name", "v"}};
		struct px_sigv4_pair h2[] = {{"x", "a\r\nInjected: 1"}};
		struct px_sigv4_request r = {"GET", "/", NULL, 0, h1, 1,
					     EMPTY_SHA256};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_canonical_request(&r, &b, &eb), PX_EINVAL);
		r.headers = h2;
		T_EQ(px_sigv4_canonical_request(&r, &b, &eb), PX_EINVAL);
		px_buf_release(&b);
	}
	T_CASE("session token is signed and sent")
	{
		struct px_sigv4_cred c = {S3_KEY, S3_SECRET, "TOKEN",
					  "us-east-1", "s3"};
		struct px_sigv4_pair h[] = {{"host", "h"}};

		px_buf_init(&b, 0);
		T_EQ(px_sigv4_sign_s3("GET", "/k", NULL, 0, h, 1,
				      EMPTY_SHA256, &c, "20130524T000000Z",
				      &b, &eb),
		     0);
		px_buf_add(&b, "", 1);
		T_OK(strstr((char *)b.data, "x-amz-security-token: TOKEN\n") !=
		     NULL);
		T_OK(strstr((char *)b.data,
			    "SignedHeaders=host;x-amz-content-sha256;"
			    "x-amz-date;x-amz-security-token,") != NULL);
		px_buf_release(&b);
	}
	T_CASE("date format")
	{
		char d[PX_SIGV4_DATE_LEN + 1];

		px_sigv4_date(1440938160, d);
		T_STREQ(d, "20150830T123600Z");
	}
}

static void run(void)
{
	static const char *const cases[] = {
		"get-vanilla",
		"get-vanilla-query-order-key-case",
		"get-vanilla-query-order-value",
		"get-header-value-trim",
		"get-unreserved",
		"post-vanilla",
		"post-x-www-form-urlencoded",
	};

	for (size_t i = 0; i < PX_ARRAY_LEN(cases); i++)
		suite_case(cases[i]);
	s3_examples();
	pieces();
}
