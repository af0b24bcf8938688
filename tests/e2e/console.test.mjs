// The admin console's server side through the real binary: the embedded
// files at /admin (security headers, gzip, ETag and 304), sign-in with the
// admin token and a scoped token (its scopes, and its revocation ending
// the session), refused sign-ins, the cookie's flags, the cookie as the
// API's credential with its CSRF checks, sign-out, expiry, a restart, and
// --console off. Prints the console's first-load size (HTML + JS + CSS,
// gzip).

import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'";

let srv;
before(async () => {
	srv = await L.startServer({ args: ['--moderation', 'off'] });
});
after(async () => {
	await srv?.kill();
});

// A request with node:http, which (unlike fetch) neither adds
// Accept-Encoding nor decodes the body, and shows every Set-Cookie.
function raw(server, method, urlPath, { headers = {}, body } = {}) {
	return new Promise((resolve, reject) => {
		const rq = http.request({ host: '127.0.0.1', port: server.port, method, path: urlPath, headers }, (res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('end', () => {
				const buf = Buffer.concat(parts);
				let json;
				try { json = JSON.parse(buf.toString('utf8')); } catch { /* not JSON */ }
				resolve({ status: res.statusCode, headers: res.headers, body: buf, json, text: buf.toString('utf8'),
					method, url: urlPath });
			});
		});
		rq.on('error', reject);
		if (body !== undefined) rq.write(body);
		rq.end();
	});
}

function assertConsoleHeaders(r) {
	assert.equal(r.headers['content-security-policy'], CSP, L.show(r));
	assert.equal(r.headers['x-content-type-options'], 'nosniff');
	assert.equal(r.headers['x-frame-options'], 'DENY');
	assert.equal(r.headers['referrer-policy'], 'no-referrer');
}

// Sign in with token; -> {res, cookie ("pictor_session=..."), setCookie, csrf, result}
async function signIn(server, token, headers = {}) {
	const res = await raw(server, 'POST', '/admin/api/session', {
		headers: { 'Content-Type': 'application/json', ...headers },
		body: JSON.stringify({ token }),
	});
	const setCookie = (res.headers['set-cookie'] ?? [])[0];
	const cookie = setCookie?.split(';')[0];
	return { res, cookie, setCookie, csrf: res.json?.result?.csrf_token, result: res.json?.result };
}

// A call authenticated by the session cookie.
function withCookie(server, method, urlPath, s, { csrf, origin, body, headers = {} } = {}) {
	const h = { Cookie: s.cookie, ...headers };
	if (csrf) h['X-CSRF-Token'] = csrf;
	if (origin) h.Origin = origin;
	if (body !== undefined) h['Content-Type'] = 'application/json';
	return raw(server, method, urlPath, { headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
}

describe('console files', () => {
	test('/admin and /admin/ answer index.html with the security headers', { timeout: T }, async () => {
		for (const p of ['/admin', '/admin/', '/admin/index.html']) {
			const r = await raw(srv, 'GET', p);
			assert.equal(r.status, 200, L.show(r));
			assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
			assert.match(r.text, /<html/i);
			assertConsoleHeaders(r);
			assert.equal(r.headers['cache-control'], 'no-cache');
			assert.equal(r.headers.vary, 'Accept-Encoding');
			assert.match(r.headers.etag, /^"[0-9a-f]{32}"$/);
			assert.equal(r.headers['content-encoding'], undefined);
		}
	});

	test('each file has its content type; unknown files are 404 with the headers', { timeout: T }, async () => {
		const js = await raw(srv, 'GET', '/admin/app.js');
		assert.equal(js.status, 200);
		assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
		const css = await raw(srv, 'GET', '/admin/app.css');
		assert.equal(css.status, 200);
		assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
		for (const p of ['/admin/nope.js', '/admin/api', '/admin/..%2Fsecrets.json', '/admin/%2e%2e']) {
			const r = await raw(srv, 'GET', p);
			assert.equal(r.status, 404, L.show(r));
			assertConsoleHeaders(r);
		}
		const deep = await raw(srv, 'GET', '/admin/a/b');
		assert.equal(deep.status, 404);
		const head = await raw(srv, 'HEAD', '/admin/app.js');
		assert.equal(head.status, 200);
		assert.equal(head.body.length, 0);
		const post = await raw(srv, 'POST', '/admin/app.js');
		assert.equal(post.status, 405);
	});

	test('gzip when accepted and smaller, with its own ETag; 304 on If-None-Match', { timeout: T }, async () => {
		const sizes = {};
		for (const name of ['index.html', 'app.js', 'app.css']) {
			const plain = await raw(srv, 'GET', '/admin/' + name);
			const gz = await raw(srv, 'GET', '/admin/' + name, { headers: { 'Accept-Encoding': 'gzip, br' } });
			assert.equal(gz.status, 200);
			assert.equal(gz.headers.vary, 'Accept-Encoding');
			assertConsoleHeaders(gz);
			if (gz.headers['content-encoding'] === 'gzip') {
				assert.deepEqual(zlib.gunzipSync(gz.body), plain.body, name);
				assert.ok(gz.body.length < plain.body.length);
				assert.notEqual(gz.headers.etag, plain.headers.etag);
			} else {
				// Too small to gain from gzip: sent as is.
				assert.deepEqual(gz.body, plain.body);
				assert.equal(gz.headers.etag, plain.headers.etag);
			}
			sizes[name] = gz.body.length;
			const refused = await raw(srv, 'GET', '/admin/' + name, { headers: { 'Accept-Encoding': 'gzip;q=0' } });
			assert.equal(refused.headers['content-encoding'], undefined);
			assert.deepEqual(refused.body, plain.body);
			for (const [r, ae] of [[plain, undefined], [gz, 'gzip']]) {
				const h = { 'If-None-Match': r.headers.etag };
				if (ae) h['Accept-Encoding'] = ae;
				const nm = await raw(srv, 'GET', '/admin/' + name, { headers: h });
				assert.equal(nm.status, 304, `${name} ${ae}`);
				assert.equal(nm.body.length, 0);
				assert.equal(nm.headers.etag, r.headers.etag);
				assertConsoleHeaders(nm);
			}
			const other = await raw(srv, 'GET', '/admin/' + name, { headers: { 'If-None-Match': '"0000"' } });
			assert.equal(other.status, 200);
		}
		const total = Object.values(sizes).reduce((a, b) => a + b, 0);
		console.log(`console first load (index.html + app.js + app.css, as sent with gzip): ${total} bytes ` +
			JSON.stringify(sizes));
	});
});

describe('sessions', () => {
	test('the admin token signs in: cookie flags, result, GET session', { timeout: T }, async () => {
		const s = await signIn(srv, srv.adminToken);
		assert.equal(s.res.status, 200, L.show(s.res));
		assertConsoleHeaders(s.res);
		assert.equal(s.res.headers['cache-control'], 'no-store');
		assert.match(s.setCookie, /^pictor_session=[0-9a-f]{64}; /);
		const attrs = s.setCookie.split('; ').slice(1);
		assert.ok(attrs.includes('HttpOnly'), s.setCookie);
		assert.ok(attrs.includes('SameSite=Strict'), s.setCookie);
		assert.ok(attrs.includes('Path=/'), s.setCookie);
		assert.ok(attrs.includes('Max-Age=43200'), s.setCookie);
		assert.ok(!attrs.includes('Secure'), 'no Secure over plain http');
		assert.equal(s.res.json.success, true);
		assert.deepEqual(s.result.scopes, ['admin']);
		assert.equal(s.result.token_id, 'admin');
		assert.match(s.result.csrf_token, /^[0-9a-f]{64}$/);
		const exp = Date.parse(s.result.expires_at);
		assert.ok(Math.abs(exp - (Date.now() + 12 * 3600e3)) < 600e3, s.result.expires_at);
		// The secret is not in the answer's body: only in the HttpOnly cookie.
		assert.ok(!s.res.text.includes(s.cookie.split('=')[1]));

		const g = await withCookie(srv, 'GET', '/admin/api/session', s);
		assert.equal(g.status, 200, L.show(g));
		assert.deepEqual(g.json.result, s.result);
		const none = await raw(srv, 'GET', '/admin/api/session');
		assert.equal(none.status, 401);
		assert.equal(L.errCode(none), 'not_signed_in');
		const bogus = await raw(srv, 'GET', '/admin/api/session', { headers: { Cookie: 'pictor_session=' + 'a'.repeat(64) } });
		assert.equal(bogus.status, 401);
		assert.equal(L.errCode(bogus), 'not_signed_in');

		// the cookie is a credential of the API
		const list = await withCookie(srv, 'GET', '/v1/images', s);
		assert.equal(list.status, 200, L.show(list));
		const audit = await withCookie(srv, 'GET', '/v1/audit', s);
		assert.equal(audit.status, 200, L.show(audit));
		// and a stale one is not
		const stale = await raw(srv, 'GET', '/v1/images', { headers: { Cookie: 'pictor_session=' + 'b'.repeat(64) } });
		assert.equal(stale.status, 401);
	});

	test('wrong, malformed and cross-origin sign-ins are refused', { timeout: T }, async () => {
		for (const tok of ['nope', srv.adminToken + 'x', 'pxt_0123456789abcdef_' + '0'.repeat(64)]) {
			const s = await signIn(srv, tok);
			assert.equal(s.res.status, 401, L.show(s.res));
			assert.equal(L.errCode(s.res), 'invalid_token');
			assert.equal(s.setCookie, undefined);
		}
		for (const body of ['', 'not json', '[]', '{"token":5}', '{}']) {
			const r = await raw(srv, 'POST', '/admin/api/session', { headers: { 'Content-Type': 'application/json' }, body });
			assert.equal(r.status, 400, `${body}: ${L.show(r)}`);
			assert.equal(r.headers['set-cookie'], undefined);
		}
		const evil = await signIn(srv, srv.adminToken, { Origin: 'http://evil.example' });
		assert.equal(evil.res.status, 403);
		assert.equal(L.errCode(evil.res), 'csrf_failed');
		assert.equal(evil.setCookie, undefined);
		const site = await signIn(srv, srv.adminToken, { 'Sec-Fetch-Site': 'cross-site' });
		assert.equal(site.res.status, 403);
		assert.equal(L.errCode(site.res), 'csrf_failed');
		const same = await signIn(srv, srv.adminToken, { Origin: srv.base, 'Sec-Fetch-Site': 'same-origin' });
		assert.equal(same.res.status, 200, L.show(same.res));
	});

	test('a scoped token signs in with its scopes; revoking it ends the session', { timeout: T }, async () => {
		const c = await L.api(srv, 'POST', '/v1/tokens', { name: 'reader', scopes: ['images:read', 'stats:read'] });
		assert.equal(c.status, 201, L.show(c));
		const tok = c.json.result;
		const s = await signIn(srv, tok.value);
		assert.equal(s.res.status, 200, L.show(s.res));
		assert.deepEqual(s.result.scopes.sort(), ['images:read', 'stats:read']);
		assert.equal(s.result.token_id, tok.id);
		assert.equal((await withCookie(srv, 'GET', '/v1/images', s)).status, 200);
		const denied = await withCookie(srv, 'GET', '/v1/audit', s);
		assert.equal(denied.status, 403);
		assert.equal(L.errCode(denied), 'insufficient_scope');
		const write = await withCookie(srv, 'POST', '/v1/variants', s, { csrf: s.csrf, body: { id: 'x', options: { width: 10 } } });
		assert.equal(write.status, 403);
		assert.equal(L.errCode(write), 'insufficient_scope');

		const rv = await L.api(srv, 'DELETE', '/v1/tokens/' + tok.id);
		assert.equal(rv.status, 200, L.show(rv));
		const g = await withCookie(srv, 'GET', '/admin/api/session', s);
		assert.equal(g.status, 401);
		assert.equal(L.errCode(g), 'not_signed_in');
		assert.equal((await withCookie(srv, 'GET', '/v1/images', s)).status, 401);
		const again = await signIn(srv, tok.value);
		assert.equal(again.res.status, 401);
		assert.equal(L.errCode(again.res), 'invalid_token');
	});

	test('CSRF: state-changing calls by cookie need X-CSRF-Token and this origin', { timeout: T }, async () => {
		const s = await signIn(srv, srv.adminToken);
		const v = { id: 'csrfv', options: { width: 64 } };
		const bare = await withCookie(srv, 'POST', '/v1/variants', s, { body: v });
		assert.equal(bare.status, 403, L.show(bare));
		assert.equal(L.errCode(bare), 'csrf_failed');
		const wrong = await withCookie(srv, 'POST', '/v1/variants', s, { body: v, csrf: 'f'.repeat(64) });
		assert.equal(wrong.status, 403);
		assert.equal(L.errCode(wrong), 'csrf_failed');
		const foreign = await withCookie(srv, 'POST', '/v1/variants', s, { body: v, csrf: s.csrf, origin: 'http://evil.example' });
		assert.equal(foreign.status, 403);
		assert.equal(L.errCode(foreign), 'csrf_failed');
		const cross = await withCookie(srv, 'POST', '/v1/variants', s, { body: v, csrf: s.csrf,
			headers: { 'Sec-Fetch-Site': 'cross-site' } });
		assert.equal(cross.status, 403);
		assert.equal((await L.api(srv, 'GET', '/v1/variants/csrfv')).status, 404, 'nothing was created');

		const ok = await withCookie(srv, 'POST', '/v1/variants', s, { body: v, csrf: s.csrf, origin: srv.base });
		assert.equal(ok.status, 200, L.show(ok));
		const patch = { options: { width: 32 } };
		assert.equal((await withCookie(srv, 'PATCH', '/v1/variants/csrfv', s, { body: patch })).status, 403);
		const p = await withCookie(srv, 'PATCH', '/v1/variants/csrfv', s, { body: patch, csrf: s.csrf });
		assert.equal(p.status, 200, L.show(p));

		// an upload by cookie: refused before the body without the header
		const img = L.input('rgb.jpg');
		const up = await raw(srv, 'POST', '/v1/images?filename=a.jpg', {
			headers: { Cookie: s.cookie, 'Content-Type': 'image/jpeg' }, body: img });
		assert.equal(up.status, 403, L.show(up));
		assert.equal(L.errCode(up), 'csrf_failed');
		const up2 = await raw(srv, 'POST', '/v1/images?filename=a.jpg', {
			headers: { Cookie: s.cookie, 'Content-Type': 'image/jpeg', 'X-CSRF-Token': s.csrf }, body: img });
		assert.equal(up2.status, 201, L.show(up2));
		const id = up2.json.result.id;
		assert.equal((await withCookie(srv, 'DELETE', '/v1/images/' + id, s)).status, 403);
		assert.equal((await withCookie(srv, 'DELETE', '/v1/images/' + id, s, { csrf: s.csrf, origin: 'null' })).status, 403);
		const del = await withCookie(srv, 'DELETE', '/v1/images/' + id, s, { csrf: s.csrf, origin: srv.base });
		assert.equal(del.status, 200, L.show(del));
		assert.equal((await withCookie(srv, 'DELETE', '/v1/variants/csrfv', s)).status, 403);
		assert.equal((await withCookie(srv, 'DELETE', '/v1/variants/csrfv', s, { csrf: s.csrf })).status, 200);

		// Bearer calls are unchanged: no CSRF header, any Origin.
		const b = await L.api(srv, 'POST', '/v1/variants', v, { headers: { Origin: 'http://evil.example' } });
		assert.equal(b.status, 200, L.show(b));
		// the audit log names the session's token as the actor
		const log = await L.api(srv, 'GET', '/v1/audit?image=' + encodeURIComponent(id));
		assert.equal(log.status, 200, L.show(log));
		const del2 = log.json.result.entries.find((e) => e.action === 'delete');
		assert.ok(del2, L.show(log));
		assert.equal(del2.actor.id, 'admin');
	});

	test('sign-out needs the CSRF header, revokes the session and clears the cookie', { timeout: T }, async () => {
		const s = await signIn(srv, srv.adminToken);
		const bare = await withCookie(srv, 'DELETE', '/admin/api/session', s);
		assert.equal(bare.status, 403);
		assert.equal(L.errCode(bare), 'csrf_failed');
		const out = await withCookie(srv, 'DELETE', '/admin/api/session', s, { csrf: s.csrf });
		assert.equal(out.status, 200, L.show(out));
		assert.match(out.headers['set-cookie'][0], /^pictor_session=; .*Max-Age=0/);
		assertConsoleHeaders(out);
		// the old cookie is dead on the server, not only in the browser
		assert.equal((await withCookie(srv, 'GET', '/admin/api/session', s)).status, 401);
		assert.equal((await withCookie(srv, 'GET', '/v1/images', s)).status, 401);
		assert.equal((await withCookie(srv, 'DELETE', '/admin/api/session', s, { csrf: s.csrf })).status, 401);
	});
});

describe('lifetime', () => {
	test('a session expires after --console-session-ttl', { timeout: T }, async () => {
		const s2 = await L.startServer({ args: ['--moderation', 'off', '--console-session-ttl', '2s'] });
		try {
			// (an empty store's stats, while here)
			const st = await L.api(s2, 'GET', '/v1/stats');
			assert.equal(st.status, 200, L.show(st));
			assert.equal(st.json.result.count.current, 0);
			assert.deepEqual(st.json.result.uploads_per_hour, new Array(24).fill(0));
			const s = await signIn(s2, s2.adminToken);
			assert.equal(s.res.status, 200);
			assert.match(s.setCookie, /Max-Age=2(;|$)/);
			assert.equal((await withCookie(s2, 'GET', '/admin/api/session', s)).status, 200);
			await L.sleep(2500);
			const g = await withCookie(s2, 'GET', '/admin/api/session', s);
			assert.equal(g.status, 401);
			assert.equal(L.errCode(g), 'not_signed_in');
			assert.equal((await withCookie(s2, 'GET', '/v1/images', s)).status, 401);
		} finally {
			await s2.kill();
		}
	});

	test('sessions survive a restart; --console off answers 404', { timeout: T }, async () => {
		const s3 = await L.startServer({ args: ['--moderation', 'off'] });
		const s = await signIn(s3, s3.adminToken);
		assert.equal(s.res.status, 200);
		assert.equal(await s3.stop(), 0);
		const again = await L.startServer({ dataDir: s3.dataDir, args: ['--moderation', 'off'] });
		try {
			assert.equal((await withCookie(again, 'GET', '/admin/api/session', s)).status, 200);
			assert.equal((await withCookie(again, 'GET', '/v1/images', s)).status, 200);
		} finally {
			assert.equal(await again.stop(), 0);
		}
		const off = await L.startServer({ dataDir: s3.dataDir, args: ['--moderation', 'off', '--console', 'off'] });
		try {
			for (const p of ['/admin', '/admin/', '/admin/app.js']) {
				const r = await raw(off, 'GET', p);
				assert.equal(r.status, 404, L.show(r));
			}
			const si = await signIn(off, off.adminToken);
			assert.equal(si.res.status, 404);
			// and the cookie is no credential
			assert.equal((await withCookie(off, 'GET', '/v1/images', s)).status, 401);
		} finally {
			await off.kill();
		}
	});
});

describe('data endpoints', () => {
	// Every upload is flagged by this policy, so the counts have something
	// to move; reviews then approve and block.
	let ds;
	const ids = {};
	before(async () => {
		ds = await L.startServer({ args: ['--moderation-policy', 'look=flag: neutral>=0'] });
		const files = [
			['rgb.jpg', 'beach.jpg', { caption: 'Sunset over the BEACH' }],
			['lossy.webp', '<img src=x onerror=alert(1)>.jpg', { note: '<script>alert(1)</script>' }],
			['progressive.jpg', 'forest.jpg', { caption: 'Pines' }],
			['cmyk.jpg', 'beachfront.jpg', {}],
		];
		for (const [input, filename, metadata] of files) {
			const up = await L.upload(ds, L.input(input), { filename, metadata });
			assert.equal(up.status, 201, L.show(up));
			assert.equal(up.record.status, 'flagged', L.show(up));
			ids[filename] = up.record.id;
		}
	});
	after(async () => {
		await ds?.kill();
	});
	const stats = async () => {
		const r = await L.api(ds, 'GET', '/v1/stats');
		assert.equal(r.status, 200, L.show(r));
		return r.json.result;
	};
	const review = async (id, action) => {
		const r = await L.api(ds, 'POST', `/v1/images/${encodeURIComponent(id)}/moderation`, { action });
		assert.equal(r.status, 200, L.show(r));
	};

	test('GET /v1/stats: counts by status, uploads per hour, verdicts', { timeout: T }, async () => {
		let s = await stats();
		assert.deepEqual(s.count, { current: 4, allowed: 9007199254740991 });
		assert.deepEqual(s.status, { approved: 0, flagged: 4, blocked: 0, pending: 0 });
		assert.equal(s.uploads_per_hour.length, 24);
		assert.equal(s.uploads_per_hour[23], 4, JSON.stringify(s.uploads_per_hour));
		assert.equal(s.uploads_per_hour.reduce((a, b) => a + b, 0), 4);
		assert.deepEqual(s.moderation, { approved: 0, flagged: 4, blocked: 0 });

		await review(ids['beach.jpg'], 'approve');
		await review(ids['forest.jpg'], 'block');
		s = await stats();
		assert.deepEqual(s.status, { approved: 1, flagged: 2, blocked: 1, pending: 0 });
		const del = await L.api(ds, 'DELETE', `/v1/images/${ids['beachfront.jpg']}`);
		assert.equal(del.status, 200);
		s = await stats();
		assert.equal(s.count.current, 3);
		assert.deepEqual(s.status, { approved: 1, flagged: 1, blocked: 1, pending: 0 });
		// uploads per hour count the images still held
		assert.equal(s.uploads_per_hour[23], 3);
		// reviews are not classifier verdicts
		assert.deepEqual(s.moderation, { approved: 0, flagged: 4, blocked: 0 });
		await L.upload(ds, L.input('cmyk.jpg'), { filename: 'beachfront.jpg' }).then((u) => { ids['beachfront.jpg'] = u.record.id; });

		// delivery answers and cache hits
		const before = (await stats()).delivery;
		for (let i = 0; i < 3; i++) {
			const d = await L.req(ds, 'GET', `/img/${ids['beach.jpg']}/w=64`);
			assert.equal(d.status, 200, L.show(d));
		}
		// a delivery is counted once its last byte has left, which on
		// another keep-alive connection can be just after this call
		let after;
		for (let i = 0; i < 50; i++) {
			after = (await stats()).delivery;
			if (after.requests_total - before.requests_total >= 3)
				break;
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.equal(after.requests_total - before.requests_total, 3);
		assert.ok(after.cache_hit_ratio > 0 && after.cache_hit_ratio <= 1, JSON.stringify(after));
		assert.ok(after.requests_per_second >= 0, JSON.stringify(after));

		// the counts survive a restart
		const want = (await stats()).status;
		assert.equal(await ds.stop(), 0);
		ds = await L.startServer({ dataDir: ds.dataDir, args: ['--moderation-policy', 'look=flag: neutral>=0'] });
		assert.deepEqual((await stats()).status, want);
	});

	test('stats need stats:read', { timeout: T }, async () => {
		for (const [scopes, want] of [[['images:read'], 403], [['stats:read'], 200]]) {
			const c = await L.api(ds, 'POST', '/v1/tokens', { name: scopes[0], scopes });
			const r = await L.req(ds, 'GET', '/v1/stats', { headers: { Authorization: `Bearer ${c.json.result.value}` } });
			assert.equal(r.status, want, L.show(r));
		}
	});

	test('search: filename and metadata, any case, with status and paging', { timeout: T }, async () => {
		const names = async (q) => {
			const r = await L.api(ds, 'GET', '/v1/images?' + new URLSearchParams(q));
			assert.equal(r.status, 200, L.show(r));
			return { names: r.json.result.images.map((i) => i.filename).sort(), token: r.json.result.continuation_token, r };
		};
		assert.deepEqual((await names({ search: 'beach' })).names, ['beach.jpg', 'beachfront.jpg']);
		assert.deepEqual((await names({ search: 'SUNSET' })).names, ['beach.jpg'], 'metadata, any case');
		assert.deepEqual((await names({ search: 'onerror' })).names, ['<img src=x onerror=alert(1)>.jpg']);
		assert.deepEqual((await names({ search: '<script>' })).names, ['<img src=x onerror=alert(1)>.jpg']);
		assert.deepEqual((await names({ search: 'beach', status: 'approved' })).names, ['beach.jpg']);
		assert.deepEqual((await names({ search: 'beach', status: 'blocked' })).names, []);
		const none = await names({ search: 'zzz-nothing' });
		assert.deepEqual(none.names, []);
		assert.equal(none.token, null);
		// paging: one per page
		const p1 = await names({ search: 'beach', per_page: '1' });
		assert.equal(p1.names.length, 1);
		assert.ok(p1.token);
		const p2 = await names({ search: 'beach', per_page: '1', continuation_token: p1.token });
		assert.equal(p2.names.length, 1);
		assert.notDeepEqual(p2.names, p1.names);
		const p3 = await names({ search: 'beach', per_page: '1', continuation_token: p2.token ?? '' });
		assert.ok(p2.token === null || p3.names.length === 0);
		// the record keeps everything the list returned before
		const rec = (await names({ search: 'sunset' })).r.json.result.images[0];
		for (const k of ['id', 'filename', 'uploaded', 'requireSignedURLs', 'meta', 'variants', 'width', 'height',
			'format', 'bytes', 'sha256', 'frames', 'status', 'moderation']) assert.ok(k in rec, k);
		const long = await L.api(ds, 'GET', '/v1/images?search=' + 'a'.repeat(400));
		assert.equal(long.status, 400);
	});

	test('thumbnail_url: plain, or signed for an hour when the image needs it; the URL loads', { timeout: T }, async () => {
		const id = ids['beach.jpg']; // approved
		const q = '/v1/images?' + new URLSearchParams({ search: 'sunset', thumbnail: 'w=240,h=240,fit=cover' });
		let r = await L.api(ds, 'GET', q);
		let rec = r.json.result.images[0];
		assert.equal(rec.id, id);
		assert.match(rec.thumbnail_url, new RegExp(`^/img/${id}/[^?]*width=240[^?]*$`));
		let img = await L.req(ds, 'GET', rec.thumbnail_url);
		assert.equal(img.status, 200, L.show(img));
		assert.match(img.headers.get('content-type'), /^image\//);

		assert.equal((await L.api(ds, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: true })).status, 200);
		r = await L.api(ds, 'GET', q);
		rec = r.json.result.images[0];
		const u = new URL(rec.thumbnail_url, ds.base);
		assert.ok(u.searchParams.get('sig'), rec.thumbnail_url);
		const exp = Number(u.searchParams.get('exp'));
		assert.ok(Math.abs(exp - (Date.now() / 1000 + 3600)) < 300, String(exp));
		img = await L.req(ds, 'GET', rec.thumbnail_url);
		assert.equal(img.status, 200, L.show(img));
		assert.equal((await L.req(ds, 'GET', u.pathname)).status, 403, 'unsigned is refused');
		// a variant name works too
		r = await L.api(ds, 'GET', '/v1/images?' + new URLSearchParams({ search: 'sunset', thumbnail: 'thumbnail' }));
		assert.match(r.json.result.images[0].thumbnail_url, new RegExp(`^/img/${id}/thumbnail\\?exp=\\d+&sig=[0-9a-f]{64}$`));
		r = await L.api(ds, 'GET', '/v1/images?thumbnail=nope');
		assert.equal(r.status, 404);
		assert.equal(L.errCode(r), 'variant_not_found');
		r = await L.api(ds, 'GET', '/v1/images?thumbnail=bogus=1');
		assert.equal(r.status, 400);
		assert.equal((await L.api(ds, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: false })).status, 200);
	});

	test('GET /v1/images/{id}/thumbnail: any status to images:read, rendered by the upload, ETag and 304', { timeout: T }, async () => {
		const thumb = (id, headers) => L.req(ds, 'GET', `/v1/images/${encodeURIComponent(id)}/thumbnail`, { headers });
		const flagged = ids['<img src=x onerror=alert(1)>.jpg'];
		const fresh = await L.upload(ds, L.input('gray-alpha.png'), { filename: 'fresh-thumb.png' });
		assert.equal(fresh.record.status, 'flagged');
		const first = await thumb(fresh.record.id, ds.auth());
		assert.equal(first.headers.get('cache-status'), 'pictor; hit', 'rendered into the cache by the upload');
		assert.equal((await L.api(ds, 'DELETE', `/v1/images/${fresh.record.id}`)).status, 200);
		for (const id of [flagged, ids['forest.jpg'], ids['beach.jpg']]) { // flagged, blocked, approved
			let r = await thumb(id, ds.auth());
			if (r.headers.get('cache-status') !== 'pictor; hit') r = await thumb(id, ds.auth()); // after a restart
			assert.equal(r.status, 200, L.show(r));
			assert.equal(r.headers.get('content-type'), 'image/webp');
			assert.equal(r.headers.get('cache-control'), 'private, max-age=3600');
			assert.equal(r.headers.get('cache-status'), 'pictor; hit');
			const b = r.body;
			assert.equal(b.subarray(8, 12).toString('latin1'), 'WEBP');
			const etag = r.headers.get('etag');
			assert.match(etag, /^"[0-9a-f]{32}"$/);
			const nm = await thumb(id, { ...ds.auth(), 'If-None-Match': etag });
			assert.equal(nm.status, 304, L.show(nm));
		}
		assert.equal((await thumb(flagged, {})).status, 401);
		const c = await L.api(ds, 'POST', '/v1/tokens', { name: 'stats-only', scopes: ['stats:read'] });
		assert.equal((await thumb(flagged, { Authorization: `Bearer ${c.json.result.value}` })).status, 403);
		assert.equal((await thumb('no-such-image', ds.auth())).status, 404);

		// lazy: rendered at the first request, then a hit
		const lz = await L.startServer({ args: ['--moderation', 'off', '--console-thumbnails', 'lazy'] });
		try {
			const up = await L.upload(lz, L.input('rgb.jpg'));
			const path = `/v1/images/${up.record.id}/thumbnail`;
			const r1 = await L.req(lz, 'GET', path, { headers: lz.auth() });
			assert.equal(r1.status, 200, L.show(r1));
			assert.equal(r1.headers.get('cache-status'), 'pictor; fwd=uri-miss; stored');
			const r2 = await L.req(lz, 'GET', path, { headers: lz.auth() });
			assert.equal(r2.headers.get('cache-status'), 'pictor; hit');
			assert.deepEqual(r2.body, r1.body);
			assert.equal((await L.api(lz, 'DELETE', `/v1/images/${up.record.id}`)).status, 200);
			assert.equal((await L.req(lz, 'GET', path, { headers: lz.auth() })).status, 404);
		} finally {
			await lz.kill();
		}
	});

	test('GET /v1/images/{id}/url: variant or options, ttl, signed when required', { timeout: T }, async () => {
		const id = ids['beach.jpg'];
		const url = async (q) => L.api(ds, 'GET', `/v1/images/${id}/url?` + new URLSearchParams(q));
		let r = await url({ variant: 'thumbnail' });
		assert.equal(r.status, 200, L.show(r));
		assert.deepEqual(r.json.result, { url: `/img/${id}/thumbnail`, expires_at: null, signed: false });
		assert.equal((await L.req(ds, 'GET', r.json.result.url)).status, 200);
		r = await url({});
		assert.equal(r.json.result.url, `/img/${id}/public`);

		assert.equal((await L.api(ds, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: true })).status, 200);
		r = await url({ options: 'w=100,f=webp', ttl: '120' });
		assert.equal(r.status, 200, L.show(r));
		assert.equal(r.json.result.signed, true);
		const exp = Date.parse(r.json.result.expires_at);
		assert.ok(Math.abs(exp - (Date.now() + 120e3)) < 60e3, r.json.result.expires_at);
		assert.match(r.json.result.url, new RegExp(`^/img/${id}/[^?]+\\?exp=\\d+&sig=[0-9a-f]{64}$`));
		const img = await L.req(ds, 'GET', r.json.result.url);
		assert.equal(img.status, 200, L.show(img));
		assert.equal(img.headers.get('content-type'), 'image/webp');
		assert.equal(Number(new URL(r.json.result.url, ds.base).searchParams.get('exp')), Math.round(exp / 1000));
		// default ttl: an hour
		r = await url({ variant: 'thumbnail' });
		assert.ok(Math.abs(Date.parse(r.json.result.expires_at) - (Date.now() + 3600e3)) < 60e3);
		// a variant that never requires signing is not signed
		assert.equal((await L.api(ds, 'POST', '/v1/variants', { id: 'open', options: { width: 50 }, neverRequireSignedURLs: true })).status, 200);
		r = await url({ variant: 'open' });
		assert.deepEqual(r.json.result, { url: `/img/${id}/open`, expires_at: null, signed: false });

		for (const [q, status, code] of [
			[{ ttl: '0' }, 400, 'invalid_request'], [{ ttl: String(7 * 86400 + 1) }, 400, 'invalid_request'],
			[{ ttl: 'x' }, 400, 'invalid_request'], [{ variant: 'a', options: 'w=1' }, 400, 'invalid_request'],
			[{ variant: 'nope' }, 404, 'variant_not_found'], [{ options: 'bogus=1' }, 400, 'invalid_option'],
		]) {
			r = await url(q);
			assert.equal(r.status, status, L.show(r));
			assert.equal(L.errCode(r), code);
		}
		r = await L.api(ds, 'GET', '/v1/images/nope/url');
		assert.equal(r.status, 404);
		assert.equal((await url({ ttl: String(7 * 86400) })).status, 200);
		// `pictor url`, the CLI twin, beside the running server
		let cli = await L.runCli(['url', id, '--data', ds.dataDir, '--options', 'w=100,f=webp', '--ttl', '120']);
		assert.equal(cli.code, 0, cli.stderr);
		const out = JSON.parse(cli.stdout);
		assert.equal(out.signed, true);
		assert.match(out.url, new RegExp(`^/img/${id}/[^?]+\\?exp=\\d+&sig=[0-9a-f]{64}$`));
		assert.equal((await L.req(ds, 'GET', out.url)).status, 200);
		cli = await L.runCli(['url', id, '--data', ds.dataDir, '--variant', 'open']);
		assert.deepEqual(JSON.parse(cli.stdout), { url: `/img/${id}/open`, expires_at: null, signed: false });
		cli = await L.runCli(['url', id, '--data', ds.dataDir, '--variant', 'nope']);
		assert.equal(cli.code, 1);
		assert.match(cli.stderr, /variant_not_found/);
		cli = await L.runCli(['url', '--data', ds.dataDir]);
		assert.equal(cli.code, 2);

		// images:read is enough
		const c = await L.api(ds, 'POST', '/v1/tokens', { name: 'r', scopes: ['images:read'] });
		r = await L.req(ds, 'GET', `/v1/images/${id}/url`, { headers: { Authorization: `Bearer ${c.json.result.value}` } });
		assert.equal(r.status, 200, L.show(r));
	});
});
