// Volumetric protection through the real binary: per-client rate limits
// (429 with Retry-After and RateLimit headers), client identity behind a
// trusted proxy, refusal of unauthenticated uploads before their body,
// rules (deny / allow / limit, SIGHUP reload, a broken file kept out),
// hotlink protection, strict HTTP framing, NUL bytes, and slow clients
// closed at the header deadline while /healthz keeps answering; a render
// over its time budget is stopped and its worker freed.
//
// Every 127.x address is local: per-client behaviour is driven by binding
// the source address of each connection (localAddress).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = L.input('rgb.jpg');

// GET with a bound source address; a fresh connection each time.
function get(srv, urlPath, { from = '127.0.0.1', headers = {}, timeout = 30000 } = {}) {
	return new Promise((resolve, reject) => {
		const rq = http.request({
			host: '127.0.0.1', port: srv.port, path: urlPath, method: 'GET',
			localAddress: from, agent: false, headers,
			timeout: timeout * L.TIME_SCALE,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const body = Buffer.concat(chunks);
				let json;
				try { json = JSON.parse(body.toString()); } catch { /* binary */ }
				resolve({ status: res.statusCode, headers: res.headers, body, json });
			});
		});
		rq.on('timeout', () => rq.destroy(new Error('timeout')));
		rq.on('error', reject);
		rq.end();
	});
}

// Send raw bytes; resolve with the answer's status line and whether the
// server closed the connection.
function raw(srv, bytes, { from = '127.0.0.1', wait = 5000 } = {}) {
	return new Promise((resolve) => {
		const sock = net.connect({ host: '127.0.0.1', port: srv.port, localAddress: from });
		let buf = Buffer.alloc(0);
		let closed = false;
		const t = setTimeout(() => { sock.destroy(); finish(); }, wait * L.TIME_SCALE);
		function finish() {
			clearTimeout(t);
			const text = buf.toString('latin1');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
			resolve({ status: m ? Number(m[1]) : 0, text, closed });
		}
		sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
		sock.on('error', () => {});
		sock.on('close', () => { closed = true; finish(); });
		sock.write(bytes);
	});
}

// (a fresh connection: a pooled one may be at its idle deadline)
async function metric(srv, name) {
	const m = await get(srv, '/metrics');
	const line = m.body.toString().split('\n').find((l) => l.startsWith(name + ' ') || l === name);
	return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// A noise PNG of about w*h*3 bytes that no encoder can shrink.
const noisePng = (w, h) => L.encodePng(w, h, crypto.randomBytes(w * h * 3), 3);

// GET urlPath and read the answer at most `rate` bytes a second (0: not
// at all) until drain() is called, then at full speed. result resolves
// when the connection closes or after `wait` ms, with the bytes received
// (headers included).
function slowGet(srv, urlPath, { from = '127.0.0.1', headers = {}, rate = 0, wait = 30000 } = {}) {
	const sock = net.connect({ host: '127.0.0.1', port: srv.port, localAddress: from });
	let got = 0;
	let closed = false;
	let finish;
	const result = new Promise((resolve) => { finish = () => resolve({ got, closed }); });
	sock.pause();
	const hdrs = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
	sock.write(`GET ${urlPath} HTTP/1.1\r\nHost: x\r\n${hdrs}\r\n`);
	const tick = setInterval(() => {
		let c;
		if (rate && (c = sock.read(Math.max(1, Math.round(rate / 10))))) got += c.length;
	}, 100);
	const t = setTimeout(() => { sock.destroy(); }, wait * L.TIME_SCALE);
	sock.on('error', () => {});
	sock.on('close', () => { closed = true; clearInterval(tick); clearTimeout(t); finish(); });
	return {
		result,
		drain() { clearInterval(tick); sock.on('data', (c) => { got += c.length; }); sock.resume(); },
		destroy() { sock.destroy(); },
	};
}

// Poll a metric until it reaches want (at most `tries` times 100 ms).
async function metricReach(srv, name, want, tries = 600) {
	let v;
	for (let i = 0; i < tries && (v = await metric(srv, name)) < want; i++) await L.sleep(100);
	return v;
}

describe('rate limits and client identity', () => {
	let srv;
	let id;
	before(async () => {
		srv = await L.startServer({
			args: ['--moderation', 'off', '--rate-limit', 'render=1/m:3',
				'--rate-limit', 'hit=2/m:6,api=1000/s:1000', '--trusted-proxies', '127.0.0.2/32'],
		});
		const up = await L.upload(srv, RGB);
		assert.equal(up.status, 201, L.show(up));
		id = up.record.id;
	});
	after(() => srv?.kill());

	test('over its render burst a client gets 429 with Retry-After and RateLimit headers; others do not', { timeout: T }, async () => {
		const codes = [];
		for (let i = 0; i < 5; i++) codes.push((await get(srv, `/img/${id}/w=${20 + i}`, { from: '127.0.3.1' })).status);
		assert.deepEqual(codes, [200, 200, 200, 429, 429]);
		const r = await get(srv, `/img/${id}/w=40`, { from: '127.0.3.1' });
		assert.equal(r.status, 429);
		assert.equal(r.json.errors[0].code, 'rate_limited');
		// one token a minute: the next one is 60 s away at most
		const ra = Number(r.headers['retry-after']);
		assert.ok(ra >= 1 && ra <= 60, `Retry-After ${r.headers['retry-after']}`);
		assert.equal(r.headers['ratelimit-policy'], '"render";q=3;w=180');
		assert.match(r.headers.ratelimit, /^"render";r=0;t=\d+$/);
		// another client is not affected
		assert.equal((await get(srv, `/img/${id}/w=20`, { from: '127.0.3.2' })).status, 200);
		// the access log names the limit
		const line = srv.logs.find((l) => l.msg === 'request' && l.status === 429);
		assert.equal(line.refused_by, 'limit:render');
		assert.ok((await metric(srv, 'pictor_ratelimited_total{class="render"}')) >= 3);
		// each 429 was held back (--refusal-delay-ms) before it was sent
		assert.ok((await metric(srv, 'pictor_refusals_delayed_total')) >= 3);
	});

	test('a 304 is a hit, not a render', { timeout: T }, async () => {
		const first = await get(srv, `/img/${id}/w=30`, { from: '127.0.3.3' });
		assert.equal(first.status, 200);
		// renders: 1 of 3 used; cached revalidations use hit tokens (burst 6)
		const codes = [];
		for (let i = 0; i < 8; i++) {
			codes.push((await get(srv, `/img/${id}/w=30`, { from: '127.0.3.3', headers: { 'If-None-Match': first.headers.etag } })).status);
		}
		assert.deepEqual(codes, [304, 304, 304, 304, 304, 304, 429, 429]);
		const r = await get(srv, `/img/${id}/w=30`, { from: '127.0.3.3', headers: { 'If-None-Match': first.headers.etag } });
		assert.equal(r.headers['ratelimit-policy'], '"hit";q=6;w=180');
	});

	test('X-Forwarded-For from an untrusted peer is ignored', { timeout: T }, async () => {
		const codes = [];
		for (let i = 0; i < 5; i++) {
			codes.push((await get(srv, `/img/${id}/w=${50 + i}`, {
				from: '127.0.3.4', headers: { 'X-Forwarded-For': `198.51.100.${i}` },
			})).status);
		}
		assert.deepEqual(codes, [200, 200, 200, 429, 429]);
	});

	test('behind a trusted proxy each forwarded client has its own budget', { timeout: T }, async () => {
		const before = await metric(srv, 'pictor_clients_tracked');
		const codes = [];
		for (let i = 0; i < 5; i++) {
			codes.push((await get(srv, `/img/${id}/w=${60 + i}`, {
				from: '127.0.0.2', headers: { 'X-Forwarded-For': `6.6.6.6, 198.51.100.${i}` },
			})).status);
		}
		assert.deepEqual(codes, [200, 200, 200, 200, 200]);
		// the same forwarded client runs out like a direct one
		const same = [];
		for (let i = 0; i < 4; i++) {
			same.push((await get(srv, `/img/${id}/w=${70 + i}`, {
				from: '127.0.0.2', headers: { Forwarded: 'for="[2001:db8:1:2::1]"', 'X-Forwarded-For': '1.1.1.1' },
			})).status);
		}
		// a different address in the same IPv6 /64 shares the budget
		same.push((await get(srv, `/img/${id}/w=80`, {
			from: '127.0.0.2', headers: { Forwarded: 'for="[2001:db8:1:2::ffff]"' },
		})).status);
		assert.deepEqual(same, [200, 200, 200, 429, 429]);
		assert.ok((await metric(srv, 'pictor_clients_tracked')) >= before + 6);
		const line = srv.logs.filter((l) => l.msg === 'request' && l.client === '2001:db8:1:2::/64');
		assert.ok(line.length >= 5, 'the access log names the forwarded client');
	});
});

describe('per-token limits', () => {
	test('a scoped token has one bucket wherever it calls from; another token and the admin token are not charged', { timeout: T }, async () => {
		const srv = await L.startServer({ args: ['--moderation', 'off', '--token-rate-limit', 'api=1/m:3'] });
		try {
			const mk = async (name) => {
				const r = await L.api(srv, 'POST', '/v1/tokens', { name, scopes: ['images:read'] });
				assert.equal(r.status, 201, L.show(r));
				return { Authorization: `Bearer ${r.json.result.value}` };
			};
			const a = await mk('one'), b = await mk('two');
			const codes = [];
			for (let i = 0; i < 4; i++) codes.push(await get(srv, '/v1/images', { headers: a, from: `127.0.13.${i + 1}` }));
			assert.deepEqual(codes.map((r) => r.status), [200, 200, 200, 429]);
			const over = codes[3];
			assert.equal(over.json.errors[0].code, 'rate_limited');
			assert.match(over.json.errors[0].message, /from this token/);
			assert.ok(Number(over.headers['retry-after']) >= 1);
			assert.equal(over.headers['ratelimit-policy'], '"token-api";q=3;w=180');
			assert.equal((await get(srv, '/v1/images', { headers: b, from: '127.0.13.1' })).status, 200);
			for (let i = 0; i < 5; i++) assert.equal((await get(srv, '/v1/images', { headers: srv.auth(), from: '127.0.13.1' })).status, 200);
			assert.ok(srv.logs.some((l) => l.msg === 'request' && l.status === 429 && l.refused_by === 'limit:token-api'));
			assert.equal(await metric(srv, 'pictor_ratelimited_total{class="token-api"}'), 1);
		} finally {
			srv.kill();
		}
	});
});

describe('uploads are refused from their headers', () => {
	let srv;
	before(async () => {
		srv = await L.startServer({ args: ['--moderation', 'off', '--upload-memory', String(64 << 20)] });
	});
	after(() => srv?.kill());

	test('no token: 401 before any body byte, and the budget stays free', { timeout: T }, async () => {
		// nine clients announce 32 MiB and send nothing
		const holds = [];
		for (let i = 0; i < 9; i++) {
			holds.push(raw(srv, `POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${32 << 20}\r\n\r\n`,
				{ from: `127.0.4.${i + 1}`, wait: 3000 }));
		}
		const answers = await Promise.all(holds);
		for (const a of answers) {
			assert.equal(a.status, 401, a.text.slice(0, 200));
			assert.ok(a.closed, 'the connection is closed, not left to send its body');
		}
		// an authenticated upload still has the whole budget
		const up = await L.upload(srv, RGB);
		assert.equal(up.status, 201, L.show(up));
		assert.ok((await metric(srv, 'pictor_refused_before_body_total')) >= 9);
	});

	test('Cloudflare upload path: no token 401, an oversize body 413, both before any body byte', { timeout: T }, async () => {
		const before = await metric(srv, 'pictor_refused_before_body_total');
		const cf = '/accounts/acct/images/v1';
		const head = (cl, auth, expect) => `POST ${cf} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: ${srv.auth().Authorization}\r\n` : ''}` +
			`${expect ? 'Expect: 100-continue\r\n' : ''}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: ${cl}\r\n\r\n`;
		// none of these clients sends a body byte: each answer comes from
		// the headers alone, and the server closes the connection
		const anon = await raw(srv, head(1 << 20, false), { from: '127.0.4.20', wait: 20000 });
		assert.equal(anon.status, 401, anon.text.slice(0, 300));
		assert.ok(anon.closed);
		// one byte over the limit from a client waiting for 100 Continue,
		// and 10 GiB from one that is not (a body only a little over the
		// limit sent at once is read and thrown away, docs/SECURITY.md)
		for (const [cl, expect] of [[(32 << 20) + 1, true], [10 * 2 ** 30, false]]) {
			const r = await raw(srv, head(cl, true, expect), { from: '127.0.4.21', wait: 20000 });
			assert.equal(r.status, 413, r.text.slice(0, 300));
			assert.ok(r.closed);
			assert.match(r.text, /"code":"payload_too_large"/);
			assert.doesNotMatch(r.text, /100 Continue/);
		}
		assert.equal(await metric(srv, 'pictor_refused_before_body_total'), before + 3);
		// the upload budget was never touched
		const fd = new FormData();
		fd.append('file', new Blob([RGB]), 'rgb.jpg');
		const up = await L.req(srv, 'POST', cf, { auth: true, body: fd });
		assert.equal(up.status, 200, L.show(up));
	});

	test('every route that needs a token: 401 or 403 from the headers, before any body byte', { timeout: T }, async () => {
		const before = await metric(srv, 'pictor_refused_before_body_total');
		const tok = await L.api(srv, 'POST', '/v1/tokens', { name: 'reader', scopes: ['images:read'] });
		assert.equal(tok.status, 201, L.show(tok));
		const routes = [['PATCH', '/v1/images/abc'], ['POST', '/v1/variants'], ['PATCH', '/v1/variants/thumb'],
			['POST', '/v1/tokens'], ['POST', '/v1/cache/purge'], ['POST', '/v1/hashlists/x/hashes'],
			['POST', '/v1/images/abc/moderation'], ['PUT', '/accounts/acct/images/v1/keys/k2']];
		// each client announces 10 MB and sends nothing: the answer can
		// only come from the headers (else it would wait for the body)
		for (const [method, p] of routes) {
			for (const auth of ['', `Authorization: Bearer ${tok.json.result.value}\r\n`]) {
				const r = await raw(srv, `${method} ${p} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n`,
					{ from: '127.0.4.30', wait: 20000 });
				assert.equal(r.status, auth ? 403 : 401, `${method} ${p}: ${r.text.slice(0, 300)}`);
				assert.match(r.text, auth ? /"code":"insufficient_scope"/ : /"code":"unauthorized"/);
				assert.ok(r.closed, `${method} ${p}: the connection is closed`);
			}
		}
		assert.equal(await metric(srv, 'pictor_refused_before_body_total'), before + 2 * routes.length);
		// a caller with the scope still gets its body read
		const ok = await L.api(srv, 'POST', '/v1/variants', { id: 'early', options: { width: 10 } });
		assert.equal(ok.status, 200, L.show(ok));
	});
});

describe('rules file', () => {
	let srv;
	let dir;
	let rules;
	let id;
	before(async () => {
		dir = await L.tmpDir();
		rules = path.join(dir, 'rules.conf');
		fs.writeFileSync(rules, [
			'# test rules',
			'bad-agent=deny: ua~EvilBot',
			'friends=allow: ua~FriendBot',
			'slow=limit 1/m:2: ua~SlowBot',
			'tools=deny: ua~"/^(curl|wget)\\//"',
			'',
		].join('\n'));
		srv = await L.startServer({ args: ['--moderation', 'off', '--rules-file', rules, '--rate-limit', 'render=1/m:2'] });
		const up = await L.upload(srv, RGB);
		assert.equal(up.status, 201, L.show(up));
		id = up.record.id;
	});
	after(() => srv?.kill());

	test('deny, allow and limit', { timeout: T }, async () => {
		const d = await get(srv, `/img/${id}/public`, { headers: { 'User-Agent': 'EvilBot/1' }, from: '127.0.5.1' });
		assert.equal(d.status, 403);
		assert.equal(d.json.errors[0].code, 'forbidden_by_rule');
		assert.match(d.json.errors[0].message, /bad-agent.*line 2/);
		// allow: no limits even past the render burst
		const codes = [];
		for (let i = 0; i < 4; i++) codes.push((await get(srv, `/img/${id}/w=${10 + i}`, { headers: { 'User-Agent': 'FriendBot' }, from: '127.0.5.2' })).status);
		assert.deepEqual(codes, [200, 200, 200, 200]);
		// limit: its own class
		const slow = [];
		for (let i = 0; i < 3; i++) slow.push(await get(srv, `/v1/images`, { headers: { 'User-Agent': 'SlowBot', ...srv.auth() }, from: '127.0.5.3' }));
		assert.deepEqual(slow.map((r) => r.status), [200, 200, 429]);
		assert.equal(slow[2].headers['ratelimit-policy'], '"slow";q=2;w=120');
		assert.equal(await metric(srv, 'pictor_rule_hits_total{rule="bad-agent"}'), 1);
		assert.equal(await metric(srv, 'pictor_rule_hits_total{rule="friends"}'), 4);
		assert.ok(srv.logs.some((l) => l.msg === 'request' && l.refused_by === 'rule:bad-agent:2'));
		// a regular expression: anchored, any case
		const tool = await get(srv, `/img/${id}/public`, { headers: { 'User-Agent': 'Curl/8.5.0' }, from: '127.0.5.4' });
		assert.equal(tool.status, 403);
		assert.match(tool.json.errors[0].message, /"tools" \(rules line 5\)/);
		const other = await get(srv, `/img/${id}/public`, { headers: { 'User-Agent': 'my-curl/1.0' }, from: '127.0.5.4' });
		assert.equal(other.status, 200);
	});

	test('SIGHUP reloads; a broken file keeps the previous rules and says why', { timeout: T }, async () => {
		fs.writeFileSync(rules, 'other=deny: ua~OtherBot\n');
		srv.proc.kill('SIGHUP');
		for (let i = 0; i < 100 && !srv.logs.some((l) => l.msg === 'rules reloaded'); i++) await L.sleep(50);
		assert.equal((await get(srv, `/img/${id}/public`, { headers: { 'User-Agent': 'EvilBot/1' }, from: '127.0.5.4' })).status, 200);
		assert.equal((await get(srv, `/img/${id}/public`, { headers: { 'User-Agent': 'OtherBot' }, from: '127.0.5.4' })).status, 403);

		fs.writeFileSync(rules, '# fine\nfine=deny: ua~X\nbroken=explode: ua\n');
		srv.proc.kill('SIGHUP');
		let err;
		for (let i = 0; i < 100 && !(err = srv.logs.find((l) => /rules not reloaded/.test(l.msg ?? ''))); i++) await L.sleep(50);
		assert.ok(err, 'the failed reload is logged');
		assert.match(err.error, /line 3/);
		assert.equal((await get(srv, `/img/${id}/public`, { headers: { 'User-Agent': 'OtherBot' }, from: '127.0.5.4' })).status, 403);
		assert.ok(srv.running);
	});

	test('a broken rules file stops start-up with its line', { timeout: T }, async () => {
		const bad = path.join(dir, 'bad.conf');
		fs.writeFileSync(bad, 'a=deny: ua\n\nb=deny: nonsense=1\n');
		await assert.rejects(L.startServer({ args: ['--moderation', 'off', '--rules-file', bad] }), /line 3/);
	});

	test('the shipped default rules parse', { timeout: T }, async () => {
		const s = await L.startServer({ args: ['--moderation', 'off', '--rules-file', path.join(L.ROOT, 'conf', 'rules.conf')] });
		try {
			const r = await get(s, '/v1/images', { headers: { 'User-Agent': '' } });
			assert.equal(r.status, 403);
			assert.match(r.json.errors[0].message, /no-agent-api/);
		} finally {
			await s.kill();
		}
	});
});

describe('hotlink protection', () => {
	let srv;
	let id;
	before(async () => {
		srv = await L.startServer({ args: ['--moderation', 'off', '--hotlink-allow', 'example.com,*.example.org'] });
		const up = await L.upload(srv, RGB);
		id = up.record.id;
	});
	after(() => srv?.kill());

	test('matrix', { timeout: T }, async () => {
		const cases = [
			['https://example.com/page', 200],
			['https://img.example.org/x', 200],
			['https://example.org/x', 403],
			['https://evil.example/x', 403],
			['https://example.com.evil.example/', 403],
			['nonsense', 403],
			[undefined, 200],
		];
		for (const [ref, want] of cases) {
			const r = await get(srv, `/img/${id}/public`, { headers: ref ? { Referer: ref } : {} });
			assert.equal(r.status, want, `Referer ${ref}`);
			if (want === 403) assert.equal(r.json.errors[0].code, 'hotlink_denied');
		}
		assert.equal(await metric(srv, 'pictor_hotlink_denied_total'), 4);
	});

	test('a managed variant carries its own rule, or none', { timeout: T }, async () => {
		const mk = async (body) => L.api(srv, 'POST', '/v1/variants', { options: { width: 40 }, ...body });
		assert.equal((await mk({ id: 'open', hotlink: false })).status, 200);
		const own = await mk({ id: 'own', hotlink: { allow: ['*.partner.net'], requireReferer: true } });
		assert.equal(own.status, 200, L.show(own));
		assert.deepEqual(own.json.result.variant.hotlink, { allow: ['*.partner.net'], requireReferer: true });
		assert.equal((await mk({ id: 'plain' })).status, 200);
		for (const hotlink of [true, { allow: ['bad host!'] }, { allow: 'x.com' }, { deny: [] }]) {
			const bad = await mk({ id: 'bad', hotlink });
			assert.equal(bad.status, 400, JSON.stringify(hotlink));
		}
		const cases = [
			['open', 'https://evil.example/x', 200],
			['open', undefined, 200],
			['own', 'https://a.partner.net/p', 200],
			['own', 'https://partner.net/p', 403],
			['own', 'https://example.com/page', 403],
			['own', undefined, 403],
			['own', 'nonsense', 403],
			['plain', 'https://example.com/page', 200],
			['plain', 'https://evil.example/x', 403],
			['plain', undefined, 200],
		];
		const check = async () => {
			for (const [v, ref, want] of cases) {
				const r = await get(srv, `/img/${id}/${v}`, { headers: ref ? { Referer: ref } : {} });
				assert.equal(r.status, want, `${v} with Referer ${ref}`);
				if (want === 403) assert.equal(r.json.errors[0].code, 'hotlink_denied');
			}
		};
		await check();
		// null returns a variant to the server's rule
		const back = await L.api(srv, 'PATCH', '/v1/variants/open', { hotlink: null });
		assert.equal(back.status, 200, L.show(back));
		assert.equal(back.json.result.variant.hotlink, undefined);
		assert.equal((await get(srv, `/img/${id}/open`, { headers: { Referer: 'https://evil.example/x' } })).status, 403);
	});

	test('--hotlink-require-referer refuses requests without one', { timeout: T }, async () => {
		const s2 = await L.startServer({ args: ['--moderation', 'off', '--hotlink-require-referer', 'on'] });
		try {
			const up = await L.upload(s2, RGB);
			const r = await get(s2, `/img/${up.record.id}/public`);
			assert.equal(r.status, 403);
			assert.equal(r.json.errors[0].code, 'hotlink_denied');
		} finally {
			await s2.kill();
		}
	});
});

describe('connection hardening', () => {
	let srv;
	before(async () => {
		srv = await L.startServer({ args: ['--moderation', 'off', '--header-timeout', '2', '--per-ip-conns', '100'] });
	});
	after(() => srv?.kill());

	test('ambiguous framing: 400 and the connection closed', { timeout: T }, async () => {
		const cases = [
			['duplicate Content-Length', 'POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
			['Content-Length with chunked', 'POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
			['unknown transfer coding', 'POST /v1/images HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
			['space before colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Foo : bar\r\n\r\n'],
			['HTTP/1.1 without Host', 'GET /healthz HTTP/1.1\r\n\r\n'],
			// libmicrohttpd 0.9.75 still takes bare LF line ends and folded
			// lines; docs/SECURITY.md says so and what to put in front.
		];
		const got = [];
		for (const [name, bytes] of cases) {
			const r = await raw(srv, bytes);
			got.push(`${name}: ${r.status}${r.closed ? ' closed' : ''}`);
		}
		assert.deepEqual(got, cases.map(([name]) => `${name}: 400 closed`));
	});

	test('a NUL byte in a path or query is refused', { timeout: T }, async () => {
		const up = await L.upload(srv, RGB);
		for (const p of [`/img/${up.record.id}%00/public`, `/img/${up.record.id}/w=10%00`, '/v1/images?id=a%00b']) {
			const r = await L.req(srv, 'GET', p, { auth: true });
			assert.equal(r.status, 400, L.show(r));
		}
	});

	test('raw bytes in a path: the error body and every log line stay valid JSON', { timeout: T }, async () => {
		const r = await raw(srv, Buffer.from('GET /img/\xff\xfe/public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'latin1'));
		assert.ok(r.status >= 400 && r.status < 500, r.text.slice(0, 200));
		const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
		if (/json/.test(r.text.slice(0, r.text.indexOf('\r\n\r\n')))) JSON.parse(Buffer.from(body, 'latin1').toString('utf8'));
		await L.sleep(200);
		assert.deepEqual(srv.logs.filter((l) => l.raw !== undefined), []);
		assert.ok(srv.logs.some((l) => l.msg === 'request' && /\ufffd/.test(l.path ?? '')), 'the access line shows U+FFFD');
	});

	test('slow headers are cut at the deadline while /healthz answers', { timeout: T }, async () => {
		// 200 connections from 8 addresses, each sending a header byte
		// every 500 ms
		const N = 200;
		const socks = [];
		let closed = 0;
		for (let i = 0; i < N; i++) {
			const s = net.connect({ host: '127.0.0.1', port: srv.port, localAddress: `127.0.6.${1 + (i % 8)}` });
			s.on('error', () => {});
			s.on('close', () => { closed++; });
			s.write('GET /healthz HTTP/1.1\r\n');
			socks.push(s);
		}
		const drip = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write('X'); }, 500);
		try {
			for (let i = 0; i < 3; i++) assert.equal((await get(srv, '/healthz', { timeout: 15000 })).status, 200);
			// header deadline 2 s: all of them are closed (a generous
			// wait: the machine may be busy)
			for (let i = 0; i < 300 && closed < N; i++) await L.sleep(100);
			assert.equal(closed, N, `${closed} of ${N} slow connections closed`);
		} finally {
			clearInterval(drip);
			for (const s of socks) s.destroy();
		}
		// (the log arrives through a pipe: give it a moment)
		const warnsNow = () => srv.logs.filter((l) => l.msg === 'connection closed at its deadline' && /^127\.0\.6\./.test(l.remote));
		for (let i = 0; i < 50 && warnsNow().length === 0; i++) await L.sleep(100);
		const warns = warnsNow();
		assert.ok(warns.length >= 1 && warns.length <= 8, `${warns.length} warn lines for 8 clients`);
	});

	test('a slow reader is cut below the minimum send rate while a normal client is served', { timeout: T }, async () => {
		// 9 MB: more than the kernel buffers of both ends hold, so the
		// server still has the response when the reader stalls
		const png = noisePng(2000, 1500);
		const up = await L.upload(srv, png, { raw: true });
		assert.equal(up.status, 201, L.show(up));
		const p = `/v1/images/${up.record.id}/blob`;
		const slowBefore = await metric(srv, 'pictor_conn_slow_closed_total');
		// 256 B/s, far under --min-send-rate (16 KiB/s over a 2 s window)
		const slow = slowGet(srv, p, { from: '127.0.7.1', headers: srv.auth(), rate: 256, wait: 60000 });
		const fast = await get(srv, p, { from: '127.0.7.2', headers: srv.auth() });
		assert.equal(fast.status, 200);
		assert.equal(L.sha256(fast.body), L.sha256(png), 'the normal client gets the whole original');
		// the server cuts it (the reader learns so only when it reads on)
		assert.equal(await metricReach(srv, 'pictor_conn_slow_closed_total', slowBefore + 1), slowBefore + 1);
		slow.drain();
		const s = await slow.result;
		assert.ok(s.closed, 'the slow reader is closed by the server');
		assert.ok(s.got < png.length, `the slow reader got ${s.got} of ${png.length} bytes`);
		// cut by the rate rule, long before its whole-response deadline
		// (2 s + 9 MB at 16 KiB/s = 9 minutes)
		assert.equal(await metric(srv, 'pictor_conn_slow_closed_total'), slowBefore + 1);
		assert.equal(await metric(srv, 'pictor_send_memory_bytes'), 0);
		assert.ok(srv.logs.some((l) => l.msg === 'connection closed below the minimum transfer rate' &&
			l.phase === 'response-rate' && l.remote === '127.0.7.1'));
		assert.ok(!srv.logs.some((l) => l.remote === '127.0.7.1' && l.phase === 'response'), 'not by the deadline');
	});

	test('a body sent below the minimum rate is cut, its budget freed', { timeout: T }, async () => {
		const slowBefore = await metric(srv, 'pictor_conn_slow_closed_total');
		const r = await raw(srv, `POST /v1/images HTTP/1.1\r\nHost: x\r\nAuthorization: ${srv.auth().Authorization}\r\n` +
			'Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\nab', { from: '127.0.7.3', wait: 30000 });
		assert.ok(r.closed && r.status === 0, r.text.slice(0, 200));
		assert.equal(await metric(srv, 'pictor_conn_slow_closed_total'), slowBefore + 1);
		// the log line is written just after the cut, and read from stderr
		const logged = () => srv.logs.some((l) => l.phase === 'body-rate' && l.remote === '127.0.7.3');
		for (let i = 0; i < 50 && !logged(); i++) await L.sleep(100);
		assert.ok(logged(), 'the cut is logged with its phase');
		const up = await L.upload(srv, RGB);
		assert.equal(up.status, 201, L.show(up));
	});
});

describe('responses held for slow readers', () => {
	let srv;
	const BUDGET = 16 << 20;
	before(async () => {
		// no rate rule here: only the memory bound cuts
		srv = await L.startServer({ args: ['--moderation', 'off', '--min-send-rate', '0', '--send-memory', String(BUDGET)] });
	});
	after(() => srv?.kill());

	test('over --send-memory the slowest readers are cut until the rest fit', { timeout: T }, async () => {
		const png = noisePng(2000, 1500);
		const up = await L.upload(srv, png, { raw: true });
		assert.equal(up.status, 201, L.show(up));
		const p = `/v1/images/${up.record.id}/blob`;
		// four readers that take nothing: 4 x 9 MB held against 16 MiB
		const readers = [1, 2, 3, 4].map((i) => slowGet(srv, p, { from: `127.0.8.${i}`, headers: srv.auth(), wait: 60000 }));
		try {
			assert.equal(await metricReach(srv, 'pictor_conn_memory_closed_total', 3), 3, 'three of the four readers are cut');
			// a cut reader's response is freed once libmicrohttpd has closed
			// its connection, just after the cut on a busy machine
			let held;
			for (let i = 0; i < 50 && (held = await metric(srv, 'pictor_send_memory_bytes')) > BUDGET; i++) await L.sleep(100);
			assert.ok(held >= png.length && held <= BUDGET, `${held} bytes held`);
			await L.sleep(1500);
			assert.equal(await metric(srv, 'pictor_conn_memory_closed_total'), 3, 'the fourth fits and is left alone');
		} finally {
			for (const r of readers) r.destroy();
		}
		// a normal reader is served in full
		const fast = await get(srv, p, { from: '127.0.8.9', headers: srv.auth() });
		assert.equal(L.sha256(fast.body), L.sha256(png));
		let held = -1;
		for (let i = 0; i < 100 && (held = await metric(srv, 'pictor_send_memory_bytes')) !== 0; i++) await L.sleep(100);
		assert.equal(held, 0, 'nothing is held once the readers are gone');
	});
});

describe('five thousand slow connections', () => {
	let srv;
	before(async () => {
		// 100 a client so that all 5 000 get in (the default, 64, would
		// refuse 1 800 of them at once); a header deadline long enough
		// that a busy machine can open them all before the first is cut
		// (the cut itself is tested in 'connection hardening')
		srv = await L.startServer({ args: ['--moderation', 'off', '--header-timeout', '60', '--per-ip-conns', '100'] });
	});
	after(() => srv?.kill());

	test('from 50 addresses, a header byte every 2 s: all open at once while /healthz answers', { timeout: T }, async () => {
		const N = 5000;
		const socks = [];
		let closed = 0;
		let drip;
		try {
			for (let i = 0; i < N; i++) {
				const s = net.connect({ host: '127.0.0.1', port: srv.port, localAddress: `127.0.2.${1 + (i % 50)}` });
				s.on('error', () => {});
				s.on('close', () => { closed++; });
				s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\n'));
				socks.push(s);
				if (i % 500 === 499) await L.sleep(20);
			}
			drip = setInterval(() => { for (const s of socks) if (!s.destroyed && s.readyState === 'open') s.write('X'); }, 2000);
			// /healthz answers while they are opened and once all are
			// open at the same time (the server's own count)
			let open = 0;
			for (let i = 0; i < 600 && open < N; i++) {
				assert.equal((await L.req(srv, 'GET', '/healthz', { timeout: 15000 })).status, 200);
				open = await metric(srv, 'pictor_connections_open');
				if (open < N) await L.sleep(50);
			}
			assert.ok(open >= N, `${open} connections open at once`);
			for (let i = 0; i < 5; i++) {
				const h = await get(srv, '/healthz', { from: '127.0.0.1', timeout: 15000 });
				assert.equal(h.status, 200);
			}
			assert.equal(closed, 0, 'none was refused or cut');
		} finally {
			clearInterval(drip);
			for (const s of socks) s.destroy();
		}
		let open = -1;
		for (let i = 0; i < 300 && (open = await metric(srv, 'pictor_connections_open')) > 5; i++) await L.sleep(100);
		assert.ok(open <= 5, `${open} still open after the clients left`);
		assert.equal((await L.req(srv, 'GET', '/healthz')).status, 200);
	});
});

describe('fair scheduling of renders', () => {
	let srv;
	let big;
	const BIG = path.join(L.CORPUS, 'Elephants_5640x3172.jpg');
	before(async () => {
		if (!fs.existsSync(BIG)) throw new Error(`corpus photo ${BIG} is missing: run \`make corpus\``);
		srv = await L.startServer({
			args: ['--moderation', 'off', '--workers', '1', '--queue', '6', '--queue-per-client', '4',
				'--rate-limit', 'render=0/s:1,hit=0/s:1'],
		});
		const up = await L.upload(srv, BIG, { timeout: 120000 });
		assert.equal(up.status, 201, L.show(up));
		big = up.record.id;
	});
	after(() => srv?.kill());

	test('a flood holds at most its share of the queue; another client gets in and is served early', { timeout: T }, async () => {
		// the flood: 10 renders at once from one address, each a distinct variant
		const flood = Array.from({ length: 10 }, (_, i) =>
			get(srv, `/img/${big}/w=${2000 + i},f=jpeg`, { from: '127.0.7.1', timeout: 120000 })
				.then((r) => ({ ...r, who: 'flood', i, at: performance.now() })));
		await L.sleep(300);
		const legit = get(srv, `/img/${big}/w=64,f=jpeg`, { from: '127.0.7.2', timeout: 120000 })
			.then((r) => ({ ...r, who: 'legit', at: performance.now() }));
		const all = await Promise.all([...flood, legit]);
		const l = all.find((r) => r.who === 'legit');
		assert.equal(l.status, 200, 'the other client is served');
		const f = all.filter((r) => r.who === 'flood');
		const ok = f.filter((r) => r.status === 200);
		const busy = f.filter((r) => r.status === 503);
		assert.equal(ok.length + busy.length, 10, f.map((r) => r.status).join(' '));
		// one running + four waiting of its own; the rest refused at once
		assert.ok(busy.length >= 4, `flood refusals: ${busy.length}`);
		// round robin: at most one flood render finishes after the
		// legitimate one was queued and before it
		const before = ok.filter((r) => r.at < l.at).length;
		assert.ok(before <= 2, `${before} flood renders finished before the other client's`);
	});

	test('a full queue: a client with nothing queued pushes out the biggest flow', { timeout: T }, async () => {
		const floods = [];
		// three addresses fill the six waiting slots (two each) behind a running render
		for (let a = 1; a <= 3; a++) {
			for (let i = 0; i < (a === 1 ? 3 : 2); i++) {
				floods.push(get(srv, `/img/${big}/w=${2100 + a * 10 + i},f=jpeg`, { from: `127.0.8.${a}`, timeout: 120000 }));
				await L.sleep(50);
			}
		}
		await L.sleep(300);
		const legit = await get(srv, `/img/${big}/w=65,f=jpeg`, { from: '127.0.8.9', timeout: 120000 });
		assert.equal(legit.status, 200);
		const res = await Promise.all(floods);
		const pushed = srv.logs.filter((x) => x.msg === 'request' && x.refused_by === 'pushed-out');
		assert.equal(pushed.length, 1, res.map((r) => r.status).join(' '));
		assert.equal(pushed[0].status, 503);
	});

	test('an output over the cost cap is refused before it is queued', { timeout: T }, async () => {
		const r = await get(srv, `/img/${big}/w=8192,h=8192,fit=squeeze,f=gif`, { from: '127.0.9.5' });
		assert.equal(r.status, 422);
		assert.equal(r.json.errors[0].code, 'too_expensive');
		assert.equal((await get(srv, `/img/${big}/w=5000,h=5000,fit=squeeze,f=jpeg`, { from: '127.0.9.5', timeout: 120000 })).status, 200);
	});

	test('queued renders of a client that hung up are dropped', { timeout: T }, async () => {
		const blocker = get(srv, `/img/${big}/w=2300,f=jpeg`, { from: '127.0.9.1', timeout: 120000 });
		await L.sleep(200);
		for (let i = 0; i < 3; i++) {
			const s = net.connect({ host: '127.0.0.1', port: srv.port, localAddress: '127.0.9.2' });
			s.on('error', () => {});
			s.write(`GET /img/${big}/w=${2310 + i},f=jpeg HTTP/1.1\r\nHost: x\r\n\r\n`);
			setTimeout(() => s.destroy(), 100);
		}
		assert.equal((await blocker).status, 200);
		for (let i = 0; i < 100 && srv.logs.filter((x) => x.refused_by === 'client-gone').length < 3; i++) await L.sleep(100);
		assert.equal(srv.logs.filter((x) => x.msg === 'request' && x.refused_by === 'client-gone').length, 3);
	});

	test('a running render whose client hung up is stopped and frees the worker', { timeout: T }, async () => {
		const gone = () => srv.logs.filter((x) => x.msg === 'request' && x.error === 'client_gone');
		// many seconds of work (a wide blur of 25 Mpx), far past the
		// moment the client leaves; --render-timeout (20 s) would end
		// it as render_timeout
		const s = net.connect({ host: '127.0.0.1', port: srv.port, localAddress: '127.0.9.3' });
		s.on('error', () => {});
		s.write(`GET /img/${big}/w=5000,h=5000,fit=squeeze,blur=250,f=png HTTP/1.1\r\nHost: x\r\n\r\n`);
		// the single worker has taken it (nothing else is queued)
		assert.equal(await metricReach(srv, 'pictor_worker_load', 1), 1);
		await L.sleep(300);
		s.destroy();
		assert.equal(await metricReach(srv, 'pictor_renders_cancelled_total', 1), 1);
		// the one worker is free: a cheap render is served, and the big
		// one ended as stopped, neither finished nor timed out
		assert.equal((await get(srv, `/img/${big}/w=66,f=jpeg`, { from: '127.0.9.4', timeout: 120000 })).status, 200);
		assert.equal(gone().length, 1);
		assert.equal(gone()[0].refused_by, 'client-gone');
		assert.equal(await metric(srv, 'pictor_render_timeouts_total'), 0);
	});
});

describe('render time budget', () => {
	let srv;
	let id;
	before(async () => {
		srv = await L.startServer({
			args: ['--moderation', 'off', '--workers', '1', '--render-timeout', '1',
				'--max-output-cost', '100000000', '--rate-limit', 'render=0/s:1,hit=0/s:1'],
		});
		id = (await L.upload(srv, RGB)).record.id;
	});
	after(() => srv?.kill());

	test('a render over --render-timeout is stopped with 503 render_timeout and frees its worker', { timeout: T }, async () => {
		// 49 Mpx of PNG with a wide blur: many seconds of work uncut
		const r = await get(srv, `/img/${id}/w=7000,h=7000,fit=squeeze,blur=250,f=png`, { timeout: 120000 });
		assert.equal(r.status, 503, r.body.toString().slice(0, 200));
		assert.equal(r.json.errors[0].code, 'render_timeout');
		assert.equal(r.headers['retry-after'], '5');
		// the single worker is free again at once
		assert.equal((await get(srv, `/img/${id}/w=64,f=jpeg`)).status, 200);
		assert.equal(await metric(srv, 'pictor_render_timeouts_total'), 1);
		assert.ok(srv.logs.some((l) => l.msg === 'request' && l.error === 'render_timeout'));
	});
});

describe('workers shared between networks', () => {
	let srv;
	let big;
	before(async () => {
		srv = await L.startServer({
			args: ['--moderation', 'off', '--workers', '2', '--queue', '4', '--queue-per-client', '4',
				'--rate-limit', 'render=0/s:1,hit=0/s:1'],
		});
		const up = await L.upload(srv, path.join(L.CORPUS, 'Elephants_5640x3172.jpg'), { timeout: 120000 });
		assert.equal(up.status, 201, L.show(up));
		big = up.record.id;
	});
	after(() => srv?.kill());

	test('a network of clients neither fills the queue against another network nor holds every worker', { timeout: T }, async () => {
		// six clients of 127.0.20.0/24, one slow render each (the blur
		// keeps the first running until all six are in): four fill the
		// queue, and two run (the network alone) or one (the upload's
		// network was active in the last 10 s, and the sixth then pushes
		// out a neighbour)
		const flood = [];
		for (let a = 1; a <= 6; a++) {
			flood.push(get(srv, `/img/${big}/w=${2400 + a},blur=40,f=jpeg`, { from: `127.0.20.${a}`, timeout: 120000 }));
			await L.sleep(50);
		}
		// the queue is full before the other network asks (on a loaded
		// machine a fixed pause may not be enough)
		assert.ok(await metricReach(srv, 'pictor_worker_load', 5) >= 5);
		// one client of another network, two renders at once: its network
		// holds fewer, so each pushes out a job of the flooding network
		const legit = await Promise.all([64, 65].map((w) =>
			get(srv, `/img/${big}/w=${w},f=jpeg`, { from: '127.0.21.9', timeout: 120000 })));
		assert.deepEqual(legit.map((r) => r.status), [200, 200]);
		const res = await Promise.all(flood);
		const pushed = srv.logs.filter((x) => x.msg === 'request' && x.refused_by === 'pushed-out');
		// (a flood client arriving while its neighbours' renders still wait
		// for a worker may push out one of them too)
		assert.ok(pushed.length >= 2, res.map((r) => r.status).join(' '));
		assert.ok(pushed.every((x) => x.client?.startsWith('127.0.20.') || x.remote?.startsWith('127.0.20.')));
		// once the other network had work, the flooding one ran on one
		// worker at a time: its queued renders waited with a worker free
		assert.ok(await metric(srv, 'pictor_worker_share_held_total') >= 1,
			JSON.stringify(srv.logs.filter((x) => x.msg === 'request' && x.path.startsWith('/img/'))
				.map((x) => [x.client ?? x.remote, x.path.slice(-12), x.status, x.wait_ms, x.ms, x.refused_by])));
		const m = await L.req(srv, 'GET', '/metrics');
		assert.match(m.text, /pictor_queue_wait_seconds_count\{class="render"\} \d+/);
	});
});

describe('configured secrets', () => {
	test('an admin token under 128 bits stops start-up; a strong one is taken', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		for (const weak of ['x', 'sekrit-token', 'q7Xw2LpR9mKc4VzT']) {
			const r = await L.runCli(['serve', '--check', '--data', dir, '--admin-token', weak]);
			assert.equal(r.code, 2, r.stderr);
			assert.match(r.stderr, /admin_token is too weak \(about \d+ bits; at least 128/);
		}
		const env = await L.runCli(['serve', '--check', '--data', dir], { env: { PICTOR_ADMIN_TOKEN: 'a'.repeat(64) } });
		assert.equal(env.code, 2);
		assert.match(env.stderr, /env PICTOR_ADMIN_TOKEN: admin_token is too weak/);
		const strong = '0f3a9c2b7e1d4f6a8b0c5e2d9a7f3b1c';
		const srv = await L.startServer({ args: ['--moderation', 'off', '--admin-token', strong] });
		try {
			const r = await L.req(srv, 'GET', '/v1/images', { headers: { Authorization: `Bearer ${strong}` } });
			assert.equal(r.status, 200);
		} finally {
			srv.kill();
		}
	});
});

describe('anonymous callers learn nothing of an image they may not see', () => {
	test('missing, deleted, flagged and blocked: one answer; the reason in the log and for tokens', { timeout: T }, async () => {
		// every upload is flagged by this policy
		const srv = await L.startServer({ args: ['--moderation-policy', 'all=flag: neutral>=0'] });
		try {
			const ids = [];
			for (let i = 0; i < 3; i++) {
				const up = await L.upload(srv, L.makePng(20 + i, 20, `anon${i}`));
				assert.equal(up.status, 201, L.show(up));
				assert.equal(up.record.status, 'flagged');
				ids.push(up.record.id);
			}
			const [flagged, blocked, deleted] = ids;
			assert.equal((await L.api(srv, 'POST', `/v1/images/${blocked}/moderation`, { action: 'block' })).status, 200);
			assert.equal((await L.api(srv, 'DELETE', `/v1/images/${deleted}`)).status, 200);
			const missing = 'f'.repeat(flagged.length);
			const seen = [];
			for (const [why, id] of [['flagged', flagged], ['blocked', blocked], ['missing', deleted], ['missing', missing]]) {
				for (const p of [`/img/${id}/public`, `/img/${id}/w=10`, `/cdn-cgi/image/w=10/${id}`]) {
					const r = await L.req(srv, 'GET', p, { headers: { 'X-Request-Id': `anon-${why}-${seen.length}` } });
					const hdrs = [...r.headers.keys()].filter((k) => !['date', 'x-request-id'].includes(k)).sort();
					seen.push({ why, status: r.status, body: r.text.replaceAll(id, 'ID'), hdrs: hdrs.map((k) => `${k}: ${r.headers.get(k)}`) });
				}
			}
			for (const s of seen) assert.deepEqual({ ...s, why: '' }, { ...seen[0], why: '' }, `${s.why} differs`);
			assert.equal(seen[0].status, 404);
			assert.equal(JSON.parse(seen[0].body).errors[0].code, 'not_available');
			// the log keeps the reason
			for (const why of ['flagged', 'blocked', 'missing']) {
				assert.ok(srv.logs.some((l) => l.msg === 'request' && l.request_id?.startsWith(`anon-${why}`) &&
					l.refused_by === `unavailable:${why}`), why);
			}
			// a token holder is told why
			const auth = await L.req(srv, 'GET', `/img/${flagged}/public`, { auth: true });
			assert.equal(auth.status, 403);
			assert.equal(L.errCode(auth), 'not_approved');
			assert.match(L.errMessage(auth), /is flagged/);
			const gone = await L.req(srv, 'GET', `/img/${deleted}/public`, { auth: true });
			assert.equal(L.errCode(gone), 'not_found');
		} finally {
			srv.kill();
		}
		const s403 = await L.startServer({ args: ['--moderation', 'off', '--unavailable-status', '403'] });
		try {
			const r = await L.req(s403, 'GET', '/img/nothing-here/public');
			assert.equal(r.status, 403);
			assert.equal(L.errCode(r), 'not_available');
		} finally {
			s403.kill();
		}
	});
});

describe('filenames', () => {
	test('a long UTF-8 name is cut on a character boundary; invalid UTF-8 is 400', { timeout: T }, async () => {
		const srv = await L.startServer({ args: ['--moderation', 'off'] });
		try {
			const long = 'é'.repeat(200) + '.jpg'; // 404 bytes
			for (const raw of [true, false]) {
				const up = await L.upload(srv, RGB, { filename: long, raw });
				assert.equal(up.status, 201, L.show(up));
				const name = up.record.filename;
				assert.ok(Buffer.byteLength(name) <= 255 && Buffer.byteLength(name) >= 250, `${Buffer.byteLength(name)} bytes`);
				assert.equal(name, 'é'.repeat(name.length), 'whole characters only');
				const back = await L.api(srv, 'GET', `/v1/images/${up.record.id}`);
				assert.equal(back.json.result.filename, name);
			}
			// a stray byte: in the query string, and in a multipart header
			const q = await L.req(srv, 'POST', '/v1/images?filename=a%FFb.jpg',
				{ auth: true, headers: { 'Content-Type': 'image/jpeg' }, body: RGB });
			assert.equal(q.status, 400, L.show(q));
			assert.equal(L.errCode(q), 'invalid_filename');
			const boundary = 'XyZ';
			const body = Buffer.concat([
				Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a`),
				Buffer.from([0xc3, 0x28]),
				Buffer.from(`.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), RGB, Buffer.from(`\r\n--${boundary}--\r\n`),
			]);
			const m = await L.req(srv, 'POST', '/v1/images',
				{ auth: true, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body });
			assert.equal(m.status, 400, L.show(m));
			assert.equal(L.errCode(m), 'invalid_filename');
		} finally {
			srv.kill();
		}
	});
});
