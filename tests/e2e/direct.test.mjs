// Direct creator upload: a one-time URL from /v1/images/direct_upload (and
// Cloudflare's /v2/direct_upload) takes one multipart upload without a
// token, from a browser-like client with a CORS preflight. Second use,
// expiry, tampering, wrong origins, drafts neither listed nor served, and
// every refused input of tests/data through the direct path.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
const ORIGIN = 'https://app.example';
const RGB = L.input('rgb.jpg');

let srv;
before(async () => {
	// The suite's own upload URLs are anonymous uploads from one address;
	// the per-client upload limit has its own test below with its own server.
	srv = await L.startServer({ args: ['--cors-origins', `${ORIGIN}, https://other.example`, '--rate-limit', 'upload=100/s:1000'] });
});
after(async () => {
	await srv?.kill();
});

async function ask(body, { pathName = '/v1/images/direct_upload', headers = srv.auth() } = {}) {
	const opts = { headers: { ...headers } };
	if (body instanceof FormData) {
		opts.body = body;
	} else if (body !== undefined) {
		opts.headers['Content-Type'] = 'application/json';
		opts.body = typeof body === 'string' ? body : JSON.stringify(body);
	}
	return L.req(srv, 'POST', pathName, opts);
}

async function newUrl(body = {}) {
	const r = await ask(body);
	assert.equal(r.status, 200, L.show(r));
	assert.deepEqual(Object.keys(r.json.result).sort(), ['id', 'uploadURL']);
	return r.json.result;
}

// POST one file to an upload URL the way a browser form does.
async function send(uploadURL, bytes, { origin = ORIGIN, filename = 'photo.jpg', extra = {}, headers = {} } = {}) {
	const fd = new FormData();
	fd.append('file', new Blob([bytes]), filename);
	for (const [k, v] of Object.entries(extra)) fd.append(k, v);
	const u = new URL(uploadURL);
	const h = { ...headers };
	if (origin) h.Origin = origin;
	const r = await L.req(srv, 'POST', u.pathname + u.search, { headers: h, body: fd });
	r.record = r.json?.result;
	return r;
}

const listIds = async () => (await L.listAll(srv, 1000)).map((x) => x.id);

describe('direct creator upload', () => {
	test('browser flow: preflight, then one upload without a token', { timeout: T }, async () => {
		const { id, uploadURL } = await newUrl({ metadata: { owner: 'alice' }, requireSignedURLs: false });
		assert.match(uploadURL, new RegExp(`^${srv.base}/upload/${id}\\?token=[0-9a-f]{64}$`));

		// The draft: shown by id, not listed, not served.
		const g = await L.api(srv, 'GET', `/v1/images/${id}`);
		assert.equal(g.status, 200, L.show(g));
		assert.equal(g.json.result.draft, true);
		assert.deepEqual(g.json.result.meta, { owner: 'alice' });
		assert.ok(!(await listIds()).includes(id), 'a draft is not listed');
		assert.equal((await L.req(srv, 'GET', `/img/${id}/public`)).status, 404, 'a draft is not served');

		const u = new URL(uploadURL);
		const pre = await L.req(srv, 'OPTIONS', u.pathname + u.search, { headers: { Origin: ORIGIN,
			'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
		assert.equal(pre.status, 204, L.show(pre));
		assert.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
		assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
		assert.match(pre.headers.get('access-control-allow-headers'), /content-type/i);
		assert.match(pre.headers.get('vary'), /Origin/);

		const up = await send(uploadURL, RGB);
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.headers.get('access-control-allow-origin'), ORIGIN);
		assert.equal(up.record.id, id);
		assert.deepEqual(up.record.meta, { owner: 'alice' });
		assert.equal(up.record.draft, undefined);
		assert.ok((await listIds()).includes(id), 'listed once uploaded');
		const blob = await L.api(srv, 'GET', `/v1/images/${id}/blob`);
		assert.equal(L.sha256(blob.body), L.sha256(RGB));
		if (up.record.status === 'approved') {
			assert.equal((await L.req(srv, 'GET', `/img/${id}/public`)).status, 200);
		}

		// Second use: refused, nothing changes.
		const before = await listIds();
		const again = await send(uploadURL, L.makePng(20, 20, 'second'));
		assert.equal(again.status, 409, L.show(again));
		assert.equal(L.errCode(again), 'upload_url_used');
		assert.deepEqual(await listIds(), before);
		const blob2 = await L.api(srv, 'GET', `/v1/images/${id}/blob`);
		assert.equal(L.sha256(blob2.body), L.sha256(RGB), 'the first upload stands');
	});

	test('Cloudflare\'s /v2/direct_upload with form fields, a custom id and signing', { timeout: T }, async () => {
		const fd = new FormData();
		fd.append('id', 'direct-custom-1');
		fd.append('requireSignedURLs', 'true');
		fd.append('metadata', JSON.stringify({ k: 'v' }));
		const r = await ask(fd, { pathName: '/v2/direct_upload' });
		assert.equal(r.status, 200, L.show(r));
		assert.equal(r.json.result.id, 'direct-custom-1');
		// The uploader cannot change what the URL was made with.
		const up = await send(r.json.result.uploadURL, RGB, { origin: null,
			extra: { id: 'hijack', requireSignedURLs: 'false', metadata: '{"k":"x"}' } });
		assert.equal(up.status, 201, L.show(up));
		assert.equal(up.record.id, 'direct-custom-1');
		assert.equal(up.record.requireSignedURLs, true);
		assert.deepEqual(up.record.meta, { k: 'v' });
		assert.equal((await L.api(srv, 'GET', '/v1/images/hijack')).status, 404);
	});

	test('the account path /accounts/{account_id}/images/v2/direct_upload is the same operation', { timeout: T }, async () => {
		const fd = new FormData();
		fd.append('metadata', '{"via":"accounts"}');
		const r = await ask(fd, { pathName: '/accounts/acc123/images/v2/direct_upload' });
		assert.equal(r.status, 200, L.show(r));
		const up = await send(r.json.result.uploadURL, RGB, { origin: null });
		assert.equal(up.status, 201, L.show(up));
		assert.deepEqual(up.record.meta, { via: 'accounts' });
	});

	test('tampered or incomplete URLs: 4xx, and the URL still works afterwards', { timeout: T }, async () => {
		const { id, uploadURL } = await newUrl();
		const u = new URL(uploadURL);
		const tok = u.searchParams.get('token');
		const flip = tok.slice(0, -1) + (tok.endsWith('0') ? '1' : '0');
		for (const [p, status, code] of [
			[`/upload/${id}?token=${flip}`, 403, 'invalid_upload_url'],
			[`/upload/${id}?token=${tok.slice(1)}`, 403, 'invalid_upload_url'],
			[`/upload/${id}?token=${tok}00`, 403, 'invalid_upload_url'],
			[`/upload/${id}`, 403, 'invalid_upload_url'],
			[`/upload/${id}x?token=${tok}`, 404, 'not_found'],
		]) {
			const r = await send(srv.base + p, RGB);
			assert.equal(r.status, status, `${p}: ${L.show(r)}`);
			assert.equal(L.errCode(r), code, p);
		}
		// Not multipart: refused before the URL is spent.
		const raw = await L.req(srv, 'POST', u.pathname + u.search, { headers: { 'Content-Type': 'image/jpeg' }, body: RGB });
		assert.equal(raw.status, 400, L.show(raw));
		// Disallowed origin: refused before the URL is spent.
		const evil = await send(uploadURL, RGB, { origin: 'https://evil.example' });
		assert.equal(evil.status, 403, L.show(evil));
		assert.equal(L.errCode(evil), 'origin_not_allowed');
		assert.equal(evil.headers.get('access-control-allow-origin'), null);
		assert.ok(!(await listIds()).includes(id));
		const ok = await send(uploadURL, RGB, { origin: 'https://other.example' });
		assert.equal(ok.status, 201, L.show(ok));
		assert.equal(ok.headers.get('access-control-allow-origin'), 'https://other.example');
	});

	test('expired URLs answer 410, store nothing, and are swept', { timeout: T }, async () => {
		const exp = new Date(Date.now() + 1500).toISOString();
		const { id, uploadURL } = await newUrl({ expiry: exp });
		await L.sleep(Math.max(0, Date.parse(exp) - Date.now()) + 300);
		const g = await L.api(srv, 'GET', `/v1/images/${id}`);
		assert.equal(g.status, 404, 'an expired draft is not shown');
		const r = await send(uploadURL, RGB);
		assert.equal(r.status, 410, L.show(r));
		assert.equal(L.errCode(r), 'upload_url_expired');
		assert.ok(!(await listIds()).includes(id));
		// Asking for another URL sweeps expired drafts: the old one is gone.
		await newUrl();
		const gone = await send(uploadURL, RGB);
		assert.equal(gone.status, 404, L.show(gone));
		// The id is free again.
		const reuse = await L.upload(srv, RGB, { id });
		assert.equal(reuse.status, 201, L.show(reuse));
	});

	test('URLs that expired while the server was down are swept at start-up', { timeout: T }, async () => {
		const s1 = await L.startServer();
		const exp = new Date(Date.now() + 1200).toISOString();
		const r = await L.req(s1, 'POST', '/v1/images/direct_upload', { headers: { ...s1.auth(),
			'Content-Type': 'application/json' }, body: JSON.stringify({ expiry: exp }) });
		assert.equal(r.status, 200, L.show(r));
		const live = await L.req(s1, 'POST', '/v1/images/direct_upload', { headers: s1.auth() });
		await s1.stop();
		await L.sleep(Math.max(0, Date.parse(exp) - Date.now()) + 300);
		const s2 = await L.startServer({ dataDir: s1.dataDir });
		try {
			const u = new URL(r.json.result.uploadURL);
			const fd = new FormData();
			fd.append('file', new Blob([RGB]), 'a.jpg');
			const gone = await L.req(s2, 'POST', u.pathname + u.search, { body: fd });
			assert.equal(gone.status, 404, `swept, not merely expired: ${L.show(gone)}`);
			const lu = new URL(live.json.result.uploadURL);
			const fd2 = new FormData();
			fd2.append('file', new Blob([RGB]), 'a.jpg');
			const ok = await L.req(s2, 'POST', lu.pathname + lu.search, { body: fd2 });
			assert.equal(ok.status, 201, `an unexpired URL survives a restart: ${L.show(ok)}`);
		} finally {
			await s2.kill();
		}
	});

	test('CORS: preflight from an origin not configured is refused; none by default', { timeout: T }, async () => {
		const { uploadURL } = await newUrl();
		const u = new URL(uploadURL);
		const h = { 'Access-Control-Request-Method': 'POST' };
		const bad = await L.req(srv, 'OPTIONS', u.pathname, { headers: { ...h, Origin: 'https://evil.example' } });
		assert.equal(bad.status, 403, L.show(bad));
		assert.equal(bad.headers.get('access-control-allow-origin'), null);
		const none = await L.req(srv, 'OPTIONS', u.pathname, { headers: h });
		assert.equal(none.status, 400, L.show(none));
		const plain = await L.startServer();
		try {
			const r = await L.req(plain, 'POST', '/v1/images/direct_upload', { headers: plain.auth() });
			assert.equal(r.status, 200, L.show(r));
			const pu = new URL(r.json.result.uploadURL);
			const pre = await L.req(plain, 'OPTIONS', pu.pathname, { headers: { ...h, Origin: ORIGIN } });
			assert.equal(pre.status, 403, L.show(pre));
			assert.equal(L.errCode(pre), 'origin_not_allowed');
		} finally {
			await plain.kill();
		}
	});

	test('bad requests for an upload URL: 4xx with a stable code', { timeout: T }, async () => {
		const taken = await L.upload(srv, L.makePng(16, 16, 'taken'), { id: 'direct-taken' });
		assert.equal(taken.status, 201, L.show(taken));
		const later = (s) => new Date(Date.now() + s * 1000).toISOString();
		for (const [body, status, code] of [
			[{ expiry: later(6 * 3600 + 60) }, 400, 'invalid_expiry'],
			[{ expiry: later(-60) }, 400, 'invalid_expiry'],
			[{ expiry: 'soon' }, 400, 'invalid_expiry'],
			[{ id: 'bad id' }, 400, 'invalid_id'],
			[{ id: 'x'.repeat(129) }, 400, 'invalid_id'],
			[{ id: 'direct-taken' }, 409, 'already_exists'],
			[{ metadata: [1, 2] }, 400, 'invalid_metadata'],
			[{ metadata: '{"a":' }, 400, 'invalid_metadata'],
			[{ requireSignedURLs: 'maybe' }, 400, 'invalid_request'],
			[{ colour: 'red' }, 400, 'invalid_request'],
			['not json', 400, 'invalid_request'],
		]) {
			const r = await ask(body);
			assert.equal(r.status, status, `${JSON.stringify(body)}: ${L.show(r)}`);
			assert.equal(L.errCode(r), code, `${JSON.stringify(body)}: ${L.show(r)}`);
		}
		// An id an open URL reserves cannot be taken by a normal upload...
		await newUrl({ id: 'direct-reserved' });
		const clash = await L.upload(srv, RGB, { id: 'direct-reserved' });
		assert.equal(clash.status, 409, L.show(clash));
		// ...nor reserved twice.
		const twice = await ask({ id: 'direct-reserved' });
		assert.equal(twice.status, 409, L.show(twice));
		// Asking needs images:write.
		const ro = await L.api(srv, 'POST', '/v1/tokens', { name: 'ro', scopes: ['images:read'] });
		const denied = await ask({}, { headers: { Authorization: `Bearer ${ro.json.result.value}` } });
		assert.equal(denied.status, 403, L.show(denied));
		assert.equal((await ask({}, { headers: {} })).status, 401);
	});

	test('every refused input of tests/data through the direct path: same answer, nothing stored, URL spent', { timeout: T }, async () => {
		const rows = [
			['bomb-png-30000x30000.png', 422, ['too_many_pixels']],
			['sof-65000x65000.jpg', 422, ['too_many_pixels', 'dimensions_too_large']],
			['wide-20000x1.png', 422, ['dimensions_too_large']],
			['truncated.jpg', 422, ['corrupt_image']],
			['zero-bytes.jpg', 400, ['empty_body']],
			['text-as-jpg.jpg', 415, ['unsupported_format']],
			['svg-with-script.svg', 415, ['unsupported_format']],
			['fake-pdf.pdf', 415, ['unsupported_format']],
		];
		const before = await listIds();
		for (const [file, status, codes] of rows) {
			const { id, uploadURL } = await newUrl();
			const r = await send(uploadURL, L.input(file), { filename: file });
			assert.equal(r.status, status, `${file}: ${L.show(r)}`);
			assert.ok(codes.includes(L.errCode(r)), `${file}: ${L.show(r)}`);
			assert.equal((await L.api(srv, 'GET', `/v1/images/${id}`)).status, 404, file);
			const again = await send(uploadURL, RGB);
			assert.equal(again.status, 409, `${file}, second use: ${L.show(again)}`);
		}
		// A form without a file part.
		const { uploadURL } = await newUrl();
		const fd = new FormData();
		fd.append('note', 'no file');
		const u = new URL(uploadURL);
		const nofile = await L.req(srv, 'POST', u.pathname + u.search, { body: fd });
		assert.equal(nofile.status, 400, L.show(nofile));
		assert.deepEqual(await listIds(), before, 'nothing stored');
		assert.equal((await L.req(srv, 'GET', '/healthz')).status, 200);
	});

	test('a body over the limit answers 413 before the URL is spent', { timeout: T }, async () => {
		const small = await L.startServer({ args: ['--max-upload-bytes', '100000'] });
		try {
			const r = await L.req(small, 'POST', '/v1/images/direct_upload', { headers: small.auth() });
			const url = r.json.result.uploadURL;
			const u = new URL(url);
			const big = await L.rawRequest(small, 'POST', u.pathname + u.search, {
				headers: { 'Content-Type': 'multipart/form-data; boundary=xx', 'Content-Length': '300000' },
				body: Buffer.alloc(300000, 65) });
			assert.equal(big.status, 413, JSON.stringify(big.json));
			const fd = new FormData();
			fd.append('file', new Blob([RGB]), 'a.jpg');
			const ok = await L.req(small, 'POST', u.pathname + u.search, { body: fd });
			assert.equal(ok.status, 201, L.show(ok));
		} finally {
			await small.kill();
		}
	});

	test('upload URLs count as anonymous uploads per client: 429 before the URL is spent', { timeout: T }, async () => {
		const s = await L.startServer({ args: ['--rate-limit', 'upload=1/m:2'] });
		try {
			const urls = [];
			for (let i = 0; i < 3; i++) {
				const r = await L.req(s, 'POST', '/v1/images/direct_upload', { headers: s.auth() });
				assert.equal(r.status, 200, L.show(r));
				urls.push(new URL(r.json.result.uploadURL));
			}
			const post = (u, seed) => {
				const fd = new FormData();
				fd.append('file', new Blob([L.makePng(12, 12, seed)]), 'a.png');
				return L.req(s, 'POST', u.pathname + u.search, { body: fd });
			};
			assert.equal((await post(urls[0], 'r0')).status, 201);
			assert.equal((await post(urls[1], 'r1')).status, 201);
			// Refused before its body is read: a raw request sees the answer.
			const png = L.makePng(12, 12, 'r2');
			const body = Buffer.concat([Buffer.from('--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'),
				png, Buffer.from('\r\n--xx--\r\n')]);
			const limited = await L.rawRequest(s, 'POST', urls[2].pathname + urls[2].search, { body,
				headers: { 'Content-Type': 'multipart/form-data; boundary=xx', 'Content-Length': String(body.length) } });
			assert.equal(limited.status, 429, JSON.stringify(limited.json));
			assert.ok(limited.headers['retry-after']);
			const g = await L.api(s, 'GET', `/v1/images/${urls[2].pathname.split('/')[2]}`);
			assert.equal(g.json.result.draft, true, 'the URL is not spent');
		} finally {
			await s.kill();
		}
	});

	test('the upload is audited under the token that asked for the URL', { timeout: T }, async () => {
		const t = await L.api(srv, 'POST', '/v1/tokens', { name: 'web-backend', scopes: ['images:write'] });
		const tok = t.json.result;
		const r = await ask({}, { headers: { Authorization: `Bearer ${tok.value}` } });
		assert.equal(r.status, 200, L.show(r));
		const up = await send(r.json.result.uploadURL, L.makePng(30, 30, 'audited'));
		assert.equal(up.status, 201, L.show(up));
		const a = await L.api(srv, 'GET', `/v1/audit?actor=${tok.id}`);
		const actions = a.json.result.entries.map((x) => [x.action, x.actor.name]);
		assert.deepEqual(actions, [['direct_upload', 'web-backend'], ['upload', 'web-backend']]);
	});
});
