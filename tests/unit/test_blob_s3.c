/*
 * test_blob_s3.c - the S3 blob backend's pure parts and its HTTP
 * behaviour.
 *
 * The location parser and key layout are tested directly. The request
 * side (signing headers on the wire, create-only PUT, 412 as success,
 * retries on 503/429 and on a dropped connection, the verified GET, 404
 * as PX_ENOTFOUND, health) runs against a scripted HTTP/1.1 responder on
 * 127.0.0.1 in a thread: it answers each request with the next canned
 * response and records what it was sent. Interoperability with a real
 * S3 implementation is a separate harness (tests/s3/).
 */
#include "core/crypto.h"
#include "store/blob.h"
#include "store/s3list.h"
#include "store/s3loc.h"

#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static void parse_cases(void)
{
	struct px_s3loc l;
	struct px_errbuf eb = {0};
	char buf[512];
	static const char *const bad[] = {
		"",
		"s3:/bucket",
		"file://x",
		"s3://",
		"s3://ab",
		"s3://Bucket",
		"s3://bu_cket",
		"s3://-bucket",
		"s3://bucket-",
		"s3://bu..cket",
		"s3://bucket/a//b",
		"s3://bucket/a/../b",
		"s3://bucket/./b",
		"s3://bucket/a b",
		"s3://bucket/a%2fb",
		"s3://bucket?endpoint=ftp://h",
		"s3://bucket?endpoint=http://",
		"s3://bucket?endpoint=http://h/path",
		"s3://bucket?endpoint=http://user@h",
		"s3://bucket?endpoint=http://h:0",
		"s3://bucket?endpoint=http://h:65536",
		"s3://bucket?endpoint=http://h:8x",
		"s3://bucket?endpoint=http://h:",
		"s3://bucket?endpoint=http://[::1",
		"s3://bucket?endpoint=http://h%0d%0aX:1",
		"s3://bucket?region=US-EAST-1",
		"s3://bucket?region=",
		"s3://bucket?path_style=yes",
		"s3://bucket?path_style=1&path_style=0",
		"s3://bucket?unknown=1",
		"s3://bucket?endpoint",
		"s3://bucket?region=a%zz",
		"s3://bucket?region=a%0",
	};

	T_CASE("defaults: AWS, us-east-1, virtual-hosted")
	{
		T_EQ(px_s3loc_parse("s3://my-bucket", &l, &eb), 0);
		T_STREQ(l.bucket, "my-bucket");
		T_STREQ(l.prefix, "");
		T_STREQ(l.region, "us-east-1");
		T_STREQ(l.scheme, "https");
		T_STREQ(l.host, "s3.us-east-1.amazonaws.com");
		T_OK(!l.path_style);
		px_s3loc_host(&l, buf, sizeof(buf));
		T_STREQ(buf, "my-bucket.s3.us-east-1.amazonaws.com");
		px_s3loc_path(&l, "k", buf, sizeof(buf));
		T_STREQ(buf, "/k");
	}
	T_CASE("everything given, path-style, prefix trimmed")
	{
		T_EQ(px_s3loc_parse("s3://pictor/tenant/a/?endpoint=http%3A%2F"
				    "%2F127.0.0.1:7480&region=eu-west-3&"
				    "path_style=1",
				    &l, &eb),
		     0);
		T_STREQ(l.prefix, "tenant/a");
		T_STREQ(l.scheme, "http");
		T_STREQ(l.host, "127.0.0.1:7480");
		T_STREQ(l.region, "eu-west-3");
		T_OK(l.path_style);
		px_s3loc_host(&l, buf, sizeof(buf));
		T_STREQ(buf, "127.0.0.1:7480");
		px_s3loc_key(&l, "abcdef0123456789abcdef0123456789abcdef01234567"
				 "89abcdef0123456789",
			     buf, sizeof(buf));
		T_STREQ(buf, "tenant/a/blobs/ab/cd/abcdef0123456789abcdef0123"
			     "456789abcdef0123456789abcdef0123456789");
		px_s3loc_path(&l, "x/y", buf, sizeof(buf));
		T_STREQ(buf, "/pictor/x/y");
		px_s3loc_path(&l, NULL, buf, sizeof(buf));
		T_STREQ(buf, "/pictor/");
	}
	T_CASE("endpoint forms")
	{
		T_EQ(px_s3loc_parse("s3://bkt?endpoint=https://R2.example.com/",
				    &l, &eb),
		     0);
		T_STREQ(l.host, "r2.example.com");
		T_EQ(px_s3loc_parse("s3://bkt?endpoint=http://[::1]:9000", &l,
				    &eb),
		     0);
		T_STREQ(l.host, "[::1]:9000");
		T_OK(l.path_style); /* an address has no subdomains */
		T_EQ(px_s3loc_parse("s3://bkt?endpoint=http://10.0.0.7", &l,
				    &eb),
		     0);
		T_OK(l.path_style);
		T_EQ(px_s3loc_parse("s3://bkt?endpoint=http://minio.lan:9000",
				    &l, &eb),
		     0);
		T_OK(!l.path_style);
		T_EQ(px_s3loc_parse("s3://bkt?path_style=0&region=ap-south-1",
				    &l, &eb),
		     0);
		T_STREQ(l.host, "s3.ap-south-1.amazonaws.com");
	}
	T_CASE("a dotted bucket over https goes path-style")
	{
		T_EQ(px_s3loc_parse("s3://a.b.c", &l, &eb), 0);
		T_OK(l.path_style);
	}
	T_CASE("malformed locations name what is wrong")
	{
		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			memset(&eb, 0, sizeof(eb));
			if (px_s3loc_parse(bad[i], &l, &eb) != PX_EINVAL) {
				fprintf(stderr, "accepted \"%s\"\n", bad[i]);
				T_OK(0);
				continue;
			}
			T_STREQ(eb.code, "bad_blob_location");
			T_OK(eb.msg[0] != '\0');
		}
	}
}

/* ---- ListObjectsV2 pages ---- */

struct keys {
	char k[8][128];
	int n;
};

static int keep_key(void *ctx, const char *key)
{
	struct keys *ks = ctx;

	if (ks->n < 8)
		snprintf(ks->k[ks->n++], sizeof(ks->k[0]), "%s", key);
	return 0;
}

static int parse_page(const char *xml, struct keys *ks,
		      struct px_s3list_page *pg)
{
	struct px_errbuf eb = {0};

	memset(ks, 0, sizeof(*ks));
	return px_s3list_parse(xml, strlen(xml), keep_key, ks, pg, &eb);
}

static void list_parse_cases(void)
{
	struct px_s3list_page pg;
	struct keys ks;

	T_CASE("listing: keys in order, entities decoded, the next token")
	{
		T_EQ(parse_page("<?xml version=\"1.0\"?><ListBucketResult "
				"xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
				"<Name>b</Name><Prefix>p/</Prefix><KeyCount>2"
				"</KeyCount><IsTruncated>true</IsTruncated>"
				"<NextContinuationToken>1/a&amp;b=</NextContinuationToken>"
				"<Contents><Key>p/a&lt;b&#62;&#x41;</Key><Size>1</Size>"
				"<Owner><ID>x</ID></Owner></Contents>"
				"<Contents><ETag>&quot;e&quot;</ETag><Key>p/c</Key>"
				"</Contents></ListBucketResult>", &ks, &pg), 0);
		T_EQ(ks.n, 2);
		T_STREQ(ks.k[0], "p/a<b>A");
		T_STREQ(ks.k[1], "p/c");
		T_OK(pg.truncated);
		T_STREQ(pg.next, "1/a&b=");
		T_EQ(pg.nkeys, 2u);
	}
	T_CASE("listing: the last page, and an empty one")
	{
		T_EQ(parse_page("<ListBucketResult><IsTruncated>false"
				"</IsTruncated><Contents><Key>k</Key></Contents>"
				"</ListBucketResult>", &ks, &pg), 0);
		T_EQ(ks.n, 1);
		T_OK(!pg.truncated);
		T_EQ(parse_page("<ListBucketResult><KeyCount>0</KeyCount>"
				"</ListBucketResult>", &ks, &pg), 0);
		T_EQ(ks.n, 0);
		T_OK(!pg.truncated);
	}
	T_CASE("listing: malformed pages are refused, never guessed")
	{
		static const char *const bad[] = {
			"",
			"<Error><Code>AccessDenied</Code></Error>",
			"<ListBucketResult><Contents><Key>k</Key>",
			"<ListBucketResult><Contents><Key>k</Contents>",
			"<ListBucketResult><Contents><Size>1</Size></Contents>",
			"<ListBucketResult><Contents><Key>a&bogus;</Key></Contents>",
			"<ListBucketResult><Contents><Key>a&#0;</Key></Contents>",
			"<ListBucketResult><Contents><Key>a\nb</Key></Contents>",
			"<ListBucketResult><IsTruncated>true</IsTruncated>",
			("<ListBucketResult><IsTruncated>true</IsTruncated>"
			 "<NextContinuationToken></NextContinuationToken>"),
		};

		for (size_t i = 0; i < PX_ARRAY_LEN(bad); i++) {
			struct px_errbuf eb = {0};
			int rc = px_s3list_parse(bad[i], strlen(bad[i]),
						 keep_key, &ks, &pg, &eb);

			T_EQ(rc, PX_ECORRUPT);
			if (rc != PX_ECORRUPT)
				fprintf(stderr, "accepted: %s\n", bad[i]);
			else
				T_STREQ(eb.code, "bad_listing");
		}
		/* a NUL inside is refused too */
		T_EQ(px_s3list_parse("<ListBucketResult>\0", 19, keep_key, &ks,
				     &pg, NULL), PX_ECORRUPT);
	}
}

/* ---- a scripted responder on loopback ---- */

#define NSCRIPT 8

struct responder {
	int lfd;
	int port;
	const char *script[NSCRIPT]; /* raw responses; "DROP" closes;
					"HANG" answers nothing until the
					client gives up */
	int nscript;
	int served;
	char last[4096]; /* the last request's head */
	pthread_t th;
};

static long content_length(const char *head)
{
	const char *p = strcasestr(head, "\r\ncontent-length:");

	return p ? strtol(p + 17, NULL, 10) : 0;
}

static void *serve(void *arg)
{
	struct responder *r = arg;

	while (r->served < r->nscript) {
		int fd = accept(r->lfd, NULL, NULL);

		if (fd < 0)
			break;
		/* keep-alive: several requests may come on one connection */
		while (r->served < r->nscript) {
			char head[4096];
			size_t n = 0;
			long body;
			const char *resp;

			while (n < sizeof(head) - 1) {
				ssize_t k = read(fd, head + n, 1);

				if (k <= 0)
					goto next_conn;
				n++;
				head[n] = '\0';
				if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
					break;
			}
			memcpy(r->last, head, n + 1);
			for (body = content_length(head); body > 0; body--) {
				char c;

				if (read(fd, &c, 1) != 1)
					goto next_conn;
			}
			resp = r->script[r->served++];
			if (strcmp(resp, "DROP") == 0)
				goto next_conn;
			if (strcmp(resp, "HANG") == 0) {
				char c;

				while (read(fd, &c, 1) > 0)
					;
				goto next_conn;
			}
			if (write(fd, resp, strlen(resp)) < 0)
				goto next_conn;
		}
	next_conn:
		close(fd);
	}
	return NULL;
}

static void responder_start(struct responder *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lfd = socket(AF_INET, SOCK_STREAM, 0);
	bind(r->lfd, (struct sockaddr *)&a, sizeof(a));
	listen(r->lfd, 8);
	getsockname(r->lfd, (struct sockaddr *)&a, &n);
	r->port = ntohs(a.sin_port);
	pthread_create(&r->th, NULL, serve, r);
}

static void responder_stop(struct responder *r)
{
	shutdown(r->lfd, SHUT_RDWR);
	close(r->lfd);
	pthread_join(r->th, NULL);
}

static struct px_blob_store *open_at(struct responder *r)
{
	char loc[128];
	struct px_blob_store *s = NULL;
	struct px_errbuf eb = {0};

	snprintf(loc, sizeof(loc),
		 "s3://bkt/pre?endpoint=http://127.0.0.1:%d&path_style=1",
		 r->port);
	T_EQ(px_blob_open(&px_blob_s3_ops, loc, &s, &eb), 0);
	return s;
}

#define OK_EMPTY "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define BUSY "HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n\r\n"

struct hexes {
	char h[4][65];
	int n;
};

static int keep_hex(void *ctx, const char *hex)
{
	struct hexes *hs = ctx;

	if (hs->n < 4)
		snprintf(hs->h[hs->n++], sizeof(hs->h[0]), "%s", hex);
	return 0;
}

static void http_cases(void)
{
	static const char data[] = "hello, blob";
	char hex[65], resp[256];
	struct px_errbuf eb = {0};
	struct px_buf out;
	uint64_t size = 0;

	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	px_sha256_hex(data, strlen(data), hex);

	T_CASE("put: create-only, signed, retried past 503 and a drop")
	{
		struct responder r = {.script = {BUSY, "DROP", OK_EMPTY},
				      .nscript = 3};
		struct px_blob_store *s;

		responder_start(&r);
		s = open_at(&r);
		T_EQ(px_blob_put(s, hex, data, strlen(data), &eb), 0);
		T_EQ(r.served, 3);
		T_OK(strstr(r.last, "PUT /bkt/pre/blobs/") == r.last);
		T_OK(strcasestr(r.last, "\r\nif-none-match: *\r\n") != NULL);
		T_OK(strcasestr(r.last, "\r\nx-amz-content-sha256: ") != NULL);
		T_OK(strstr(r.last, hex) != NULL);
		T_OK(strcasestr(r.last, "\r\nauthorization: AWS4-HMAC-SHA256 "
					"Credential=AKIDTEST/") != NULL);
		T_OK(strstr(r.last, "SignedHeaders=host;if-none-match;"
				    "x-amz-content-sha256;x-amz-date,") != NULL);
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("put: 412 means already there; 403 is an error")
	{
		struct responder r = {
			.script = {"HTTP/1.1 412 Precondition Failed\r\n"
				   "Content-Length: 0\r\n\r\n",
				   "HTTP/1.1 403 Forbidden\r\n"
				   "Content-Length: 0\r\n\r\n"},
			.nscript = 2};
		struct px_blob_store *s;

		responder_start(&r);
		s = open_at(&r);
		T_EQ(px_blob_put(s, hex, data, strlen(data), &eb), 0);
		T_EQ(px_blob_put(s, hex, data, strlen(data), &eb), PX_EIO);
		T_EQ(r.served, 2); /* 4xx is not retried */
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("get: verified by length and SHA-256; 404 is not found")
	{
		struct responder r = {.nscript = 4};
		struct px_blob_store *s;

		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(data), data);
		r.script[0] = "HTTP/1.1 429 Too Many\r\nContent-Length: 0\r\n\r\n";
		r.script[1] = resp;
		r.script[2] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhellx";
		r.script[3] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
		responder_start(&r);
		s = open_at(&r);
		px_buf_init(&out, 0);
		T_EQ(px_blob_get(s, hex, &out, &eb), 0);
		T_EQ(out.len, strlen(data));
		T_OK(out.data && memcmp(out.data, data, out.len) == 0);
		px_buf_release(&out);
		T_EQ(px_blob_get(s, hex, &out, &eb), PX_ECORRUPT);
		T_EQ(out.len, 0); /* nothing unverified reaches the caller */
		T_EQ(px_blob_get(s, hex, &out, &eb), PX_ENOTFOUND);
		px_buf_release(&out);
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("stat, del and health")
	{
		struct responder r = {
			.script = {"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
				   "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
				   "HTTP/1.1 204 No Content\r\n\r\n",
				   "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
				   OK_EMPTY,
				   "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"},
			.nscript = 6};
		struct px_blob_store *s;

		responder_start(&r);
		s = open_at(&r);
		T_EQ(px_blob_stat(s, hex, &size, &eb), 0);
		T_EQ(size, 11);
		T_EQ(px_blob_del(s, hex, &eb), 0);
		T_OK(strstr(r.last, "DELETE /bkt/pre/blobs/") == r.last);
		T_EQ(px_blob_del(s, hex, &eb), PX_ENOTFOUND);
		T_EQ(px_blob_health(s, &eb), 0);
		T_OK(strstr(r.last, "HEAD /bkt/ ") == r.last);
		T_EQ(px_blob_health(s, &eb), PX_EIO);
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("a store that is down fails after bounded retries")
	{
		struct responder r = {.script = {BUSY, BUSY, BUSY, BUSY},
				      .nscript = 4};
		struct px_blob_store *s;

		responder_start(&r);
		s = open_at(&r);
		T_EQ(px_blob_health(s, &eb), PX_EIO);
		T_STREQ(eb.code, "blob_store_unavailable");
		T_EQ(r.served, 4);
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("list: pages followed by token, only blob keys passed on")
	{
		static char page1[1024], page2[512], body1[768], body2[256];
		struct responder r = {.nscript = 2};
		struct px_blob_store *s;
		struct hexes hs = {0};

		/* page 1: a blob, a stray name under blobs/, a short one */
		snprintf(body1, sizeof(body1),
			 "<ListBucketResult><IsTruncated>true</IsTruncated>"
			 "<NextContinuationToken>t/1+=</NextContinuationToken>"
			 "<Contents><Key>pre/blobs/%.2s/%.2s/%s</Key></Contents>"
			 "<Contents><Key>pre/blobs/zz/junk</Key></Contents>"
			 "<Contents><Key>pre/blobs/00/00/%s</Key></Contents>"
			 "</ListBucketResult>", hex, hex + 2, hex, hex);
		snprintf(page1, sizeof(page1),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(body1), body1);
		snprintf(body2, sizeof(body2),
			 "<ListBucketResult><IsTruncated>false</IsTruncated>"
			 "<Contents><Key>pre/blobs/ab/cd/"
			 "abcd000000000000000000000000000000000000000000000000000000000000"
			 "</Key></Contents></ListBucketResult>");
		snprintf(page2, sizeof(page2),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(body2), body2);
		r.script[0] = page1;
		r.script[1] = page2;
		responder_start(&r);
		s = open_at(&r);
		T_EQ(px_blob_list(s, keep_hex, &hs, &eb), 0);
		T_EQ(r.served, 2);
		T_EQ(hs.n, 2);
		T_STREQ(hs.h[0], hex);
		T_STREQ(hs.h[1], "abcd000000000000000000000000000000000000000000000000000000000000");
		/* the second request carries the first page's token, encoded
		 * and signed in canonical order */
		T_OK(strstr(r.last, "GET /bkt/?continuation-token=t%2F1%2B%3D&"
				    "list-type=2&prefix=pre%2Fblobs%2F ") == r.last);
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("credentials given at open win over the environment")
	{
		struct responder r = {.script = {OK_EMPTY}, .nscript = 1};
		struct px_blob_cred cred = {"AKIDGIVEN", "given-secret", NULL};
		struct px_blob_store *s = NULL;
		char loc[128];

		responder_start(&r);
		snprintf(loc, sizeof(loc),
			 "s3://bkt?endpoint=http://127.0.0.1:%d&path_style=1",
			 r.port);
		T_EQ(px_blob_open_s3(loc, &cred, &s, &eb), 0);
		T_EQ(px_blob_health(s, &eb), 0);
		T_OK(strstr(r.last, "Credential=AKIDGIVEN/") != NULL);
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("a store that never answers: the probe gives up at its deadline")
	{
		struct responder r = {.script = {"HANG"}, .nscript = 1};
		struct px_blob_store *s;

		responder_start(&r);
		s = open_at(&r);
		T_EQ(px_blob_health(s, &eb), PX_EIO);
		T_STREQ(eb.code, "blob_store_unavailable");
		T_EQ(r.served, 1); /* no budget left for a second attempt */
		px_blob_close(s);
		responder_stop(&r);
	}
	T_CASE("no credentials, no store")
	{
		struct px_blob_store *s = NULL;

		unsetenv("AWS_SECRET_ACCESS_KEY");
		T_EQ(px_blob_open(&px_blob_s3_ops, "s3://bkt", &s, &eb),
		     PX_EINVAL);
		T_STREQ(eb.code, "no_blob_credentials");
		T_OK(s == NULL);
		T_OK(px_blob_find("s3") == &px_blob_s3_ops);
	}
}

/*
 * Against a real S3 implementation when tests/s3/run.sh gives one (Ceph
 * RGW on loopback): the backend's whole contract, with RGW checking every
 * signature.
 */
static void real_server_cases(const char *loc)
{
	static const char data[] = "bytes stored in a real S3 implementation";
	struct px_blob_store *s = NULL;
	struct px_errbuf eb = {0};
	struct px_buf out;
	uint64_t size = 0;
	char hex[65], other[65];

	printf("real-server cases against %s\n", loc);
	px_sha256_hex(data, strlen(data), hex);
	px_sha256_hex("absent", 6, other);
	T_CASE("real server: put, get, stat, del, health")
	{
		T_EQ(px_blob_open(&px_blob_s3_ops, loc, &s, &eb), 0);
		if (!s) {
			fprintf(stderr, "open: %s\n", eb.msg);
			return;
		}
		T_EQ(px_blob_health(s, &eb), 0);
		T_EQ(px_blob_stat(s, hex, &size, &eb), PX_ENOTFOUND);
		T_EQ(px_blob_put(s, hex, data, strlen(data), &eb), 0);
		if (eb.msg[0])
			fprintf(stderr, "last: %s\n", eb.msg);
		/* create-only: a second put of the same name succeeds */
		T_EQ(px_blob_put(s, hex, data, strlen(data), &eb), 0);
		T_EQ(px_blob_stat(s, hex, &size, &eb), 0);
		T_EQ(size, strlen(data));
		px_buf_init(&out, 0);
		T_EQ(px_blob_get(s, hex, &out, &eb), 0);
		T_OK(out.len == strlen(data) &&
		     memcmp(out.data, data, out.len) == 0);
		px_buf_release(&out);
		/* bytes that do not hash to their name are never returned */
		T_EQ(px_blob_put(s, other, data, strlen(data), &eb), 0);
		px_buf_init(&out, 0);
		T_EQ(px_blob_get(s, other, &out, &eb), PX_ECORRUPT);
		T_EQ(out.len, 0);
		px_buf_release(&out);
		{
			struct hexes hs = {0};

			/* both names, from the prefix only */
			T_EQ(px_blob_list(s, keep_hex, &hs, &eb), 0);
			T_EQ(hs.n, 2);
			T_OK((!strcmp(hs.h[0], hex) && !strcmp(hs.h[1], other)) ||
			     (!strcmp(hs.h[1], hex) && !strcmp(hs.h[0], other)));
		}
		T_EQ(px_blob_del(s, other, &eb), 0);
		T_EQ(px_blob_del(s, hex, &eb), 0);
		T_EQ(px_blob_del(s, hex, &eb), PX_ENOTFOUND);
		px_buf_init(&out, 0);
		T_EQ(px_blob_get(s, hex, &out, &eb), PX_ENOTFOUND);
		px_buf_release(&out);
		px_blob_close(s);
	}
	T_CASE("real server: a wrong secret is refused")
	{
		setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
		T_EQ(px_blob_open(&px_blob_s3_ops, loc, &s, &eb), 0);
		if (s) {
			T_EQ(px_blob_health(s, &eb), PX_EIO);
			T_EQ(px_blob_put(s, hex, data, strlen(data), &eb), PX_EIO);
			px_blob_close(s);
		}
	}
}

static void run(void)
{
	const char *loc = getenv("PX_TEST_S3_LOCATION");

	if (loc && *loc) {
		real_server_cases(loc); /* uses the caller's AWS_* variables */
		return;
	}
	parse_cases();
	list_parse_cases();
	http_cases();
	printf("real-server cases: run tests/s3/run.sh\n");
}
