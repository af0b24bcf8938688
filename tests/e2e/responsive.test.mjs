// Responsive delivery through the real binary: width=auto from client
// hints (sizes, Vary / Accept-CH / Critical-CH, cache entries per width
// step, signed URLs that keep "width=auto"), device classes and managed
// variants with per-device overrides, the srcset helper and its CLI twin
// `pictor srcset`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
const ORIG_W = 1600;

const IPAD = 'Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const PHONE = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';
const DESKTOP = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const vary = (r) => (r.headers.get('vary') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const widthOf = (r) => L.probe(r.body).width;

describe('width=auto', () => {
	let srv;
	let id;
	let small; // 400 px wide
	let signedId;
	let key;
	before(async () => {
		srv = await L.startServer();
		key = srv.signingKeys?.[0];
		const a = await L.upload(srv, L.makePng(ORIG_W, 40, 'auto-wide'));
		const b = await L.upload(srv, L.makePng(400, 40, 'auto-small'));
		const c = await L.upload(srv, L.makePng(ORIG_W, 40, 'auto-signed'), { requireSignedURLs: true });
		for (const u of [a, b, c]) assert.equal(u.status, 201, L.show(u));
		id = a.record.id;
		small = b.record.id;
		signedId = c.record.id;
	});
	after(async () => {
		await srv?.kill();
	});

	const get = (p, headers = {}) => L.req(srv, 'GET', p, { headers });

	test('the hint matrix picks the width step', { timeout: T }, async () => {
		const cases = [
			[{ 'Sec-CH-Width': '600' }, 640, ['Sec-CH-Width']],
			[{ Width: '700' }, 768, ['Sec-CH-Width', 'Width']],
			[{ 'Sec-CH-Viewport-Width': '390' }, 480,
				['Sec-CH-Width', 'Width', 'Sec-CH-Viewport-Width', 'Sec-CH-DPR', 'DPR']],
			[{ 'Sec-CH-Viewport-Width': '412', 'Sec-CH-DPR': '2.625' }, 1200,
				['Sec-CH-Width', 'Width', 'Sec-CH-Viewport-Width', 'Sec-CH-DPR']],
			[{ 'Viewport-Width': '300', DPR: '2' }, 640,
				['Sec-CH-Width', 'Width', 'Sec-CH-Viewport-Width', 'Viewport-Width', 'Sec-CH-DPR', 'DPR']],
			[{ 'Sec-CH-Width': '300', 'Sec-CH-Viewport-Width': '1400' }, 320, ['Sec-CH-Width']],
			[{ 'Sec-CH-Width': 'junk', Width: '900' }, 960, ['Sec-CH-Width', 'Width']],
			[{ 'Sec-CH-Width': '5000' }, ORIG_W, ['Sec-CH-Width']], // never above the original
			[{}, 960, ['Sec-CH-Width', 'Width', 'Sec-CH-Viewport-Width', 'Viewport-Width',
				'Sec-CH-UA-Mobile', 'User-Agent']],
			[{ 'Sec-CH-UA-Mobile': '?1' }, 320, ['Sec-CH-Width', 'Width', 'Sec-CH-Viewport-Width',
				'Viewport-Width', 'Sec-CH-UA-Mobile']],
			[{ 'User-Agent': IPAD }, 768, ['Sec-CH-Width', 'Width', 'Sec-CH-Viewport-Width',
				'Viewport-Width', 'Sec-CH-UA-Mobile', 'User-Agent']],
		];
		for (const [headers, want, wantVary] of cases) {
			const r = await get(`/img/${id}/w=auto`, headers);
			assert.equal(r.status, 200, L.show(r));
			assert.equal(widthOf(r), want, JSON.stringify(headers));
			assert.deepEqual(vary(r), wantVary, JSON.stringify(headers));
			assert.equal(r.headers.get('accept-ch'), 'Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width');
			assert.equal(r.headers.get('critical-ch'), 'Sec-CH-DPR, Sec-CH-Viewport-Width');
		}
		const s = await get(`/img/${small}/width=auto`, { 'Sec-CH-Width': '450' });
		assert.equal(widthOf(s), 400, 'a step above a small original gives the original');
	});

	test('the Cloudflare form, and Vary joins Accept for f=auto', { timeout: T }, async () => {
		const r = await get(`/cdn-cgi/image/width=auto,f=auto/${id}`,
			{ 'Sec-CH-Width': '600', Accept: 'image/webp' });
		assert.equal(r.status, 200, L.show(r));
		assert.equal(L.probe(r.body).format, 'webp');
		assert.equal(widthOf(r), 640);
		assert.deepEqual(vary(r), ['Accept', 'Sec-CH-Width']);
	});

	test('fixed widths carry no hint headers', { timeout: T }, async () => {
		const r = await get(`/img/${id}/w=640`, { 'Sec-CH-Width': '300' });
		assert.equal(widthOf(r), 640);
		assert.equal(r.headers.get('accept-ch'), null);
		assert.equal(r.headers.get('vary'), null);
	});

	test('one cache entry per width step, shared across hint values', { timeout: T }, async () => {
		const p = `/img/${id}/w=auto,q=71`;
		const st = (r) => r.headers.get('cache-status') ?? '';
		const a = await get(p, { 'Sec-CH-Width': '500' });
		assert.match(st(a), /uri-miss/);
		const b = await get(p, { 'Sec-CH-Width': '620' }); // same 640 step
		assert.match(st(b), /hit/, 'same step, same entry');
		assert.equal(widthOf(b), 640);
		assert.equal(a.headers.get('etag'), b.headers.get('etag'));
		const c = await get(p, { 'Sec-CH-Width': '700' }); // 768 step
		assert.match(st(c), /uri-miss/);
		assert.equal(widthOf(c), 768);
		assert.notEqual(c.headers.get('etag'), a.headers.get('etag'));
		const d = await get(p, { 'Sec-CH-Width': '700', 'If-None-Match': c.headers.get('etag') });
		assert.equal(d.status, 304);
		assert.deepEqual(vary(d), ['Sec-CH-Width']);
	});

	test('signed URLs: the signature covers width=auto as written', { timeout: T }, async () => {
		assert.ok(key, 'a signing key');
		const exp = L.now() + 600;
		const p = `/img/${signedId}/w=auto`;
		const signed = L.signedPath(p, key, exp);
		const a = await get(signed, { 'Sec-CH-Width': '300' });
		assert.equal(a.status, 200, L.show(a));
		assert.equal(widthOf(a), 320);
		const b = await get(signed, { 'Sec-CH-Viewport-Width': '800', 'Sec-CH-DPR': '2' });
		assert.equal(b.status, 200, L.show(b));
		assert.equal(widthOf(b), ORIG_W);
		// the resolved width is not what was signed
		const sig = signed.slice(signed.indexOf('?'));
		const c = await get(`/img/${signedId}/w=320${sig}`, { 'Sec-CH-Width': '300' });
		assert.equal(c.status, 403, L.show(c));
		const d = await get(p, { 'Sec-CH-Width': '300' });
		assert.equal(d.status, 403, L.show(d));
	});

	test('a bad width names auto among what is accepted', { timeout: T }, async () => {
		const r = await get(`/img/${id}/w=automatic`);
		assert.equal(r.status, 400, L.show(r));
		assert.equal(L.errCode(r), 'invalid_option');
		assert.match(L.errMessage(r), /or auto/);
		const ok = await get('/healthz');
		assert.ok(ok.status < 500);
	});
});

describe('per-device variants', () => {
	let srv;
	let id;
	before(async () => {
		srv = await L.startServer();
		const a = await L.upload(srv, L.makePng(ORIG_W, 40, 'devices'));
		assert.equal(a.status, 201, L.show(a));
		id = a.record.id;
	});
	after(async () => {
		await srv?.kill();
	});

	const get = (p, headers = {}) => L.req(srv, 'GET', p, { headers });
	const st = (r) => r.headers.get('cache-status') ?? '';

	test('overrides through the variants API, chosen by device class', { timeout: T }, async () => {
		const c = await L.api(srv, 'POST', '/v1/variants', {
			id: 'hero', options: { width: 1200, quality: 70 },
			devices: { mobile: { width: 640 }, tablet: { width: 1024 } },
		});
		assert.equal(c.status, 200, L.show(c));
		assert.deepEqual(c.json.result.variant.devices, { mobile: { width: 640 }, tablet: { width: 1024 } });
		const g = await L.api(srv, 'GET', '/v1/variants/hero');
		assert.deepEqual(g.json.result.variant.devices, { mobile: { width: 640 }, tablet: { width: 1024 } });

		const p = `/img/${id}/hero`;
		const desk = await get(p, { 'User-Agent': DESKTOP });
		assert.equal(widthOf(desk), 1200);
		assert.deepEqual(vary(desk), ['Sec-CH-UA-Mobile', 'User-Agent']);
		assert.match(st(desk), /uri-miss/);
		const desk2 = await get(p, { 'User-Agent': 'curl/8.5.0' });
		assert.match(st(desk2), /hit/, 'another desktop shares the entry');
		const mob = await get(p, { 'Sec-CH-UA-Mobile': '?1', 'User-Agent': DESKTOP });
		assert.equal(widthOf(mob), 640, 'the hint wins over the User-Agent');
		assert.deepEqual(vary(mob), ['Sec-CH-UA-Mobile']);
		assert.match(st(mob), /uri-miss/, 'a class that changes the options has its own entry');
		const mob2 = await get(p, { 'User-Agent': PHONE });
		assert.equal(widthOf(mob2), 640);
		assert.match(st(mob2), /hit/);
		const tab = await get(p, { 'User-Agent': IPAD });
		assert.equal(widthOf(tab), 1024);
		assert.notEqual(tab.headers.get('etag'), desk.headers.get('etag'));
		const chDesk = await get(p, { 'Sec-CH-UA-Mobile': '?0', 'User-Agent': PHONE });
		assert.equal(widthOf(chDesk), 1200);
	});

	test('a variant without overrides does not depend on the device', { timeout: T }, async () => {
		const c = await L.api(srv, 'POST', '/v1/variants', { id: 'plain', options: { width: 500 } });
		assert.equal(c.status, 200, L.show(c));
		assert.equal(c.json.result.variant.devices, undefined);
		const p = `/img/${id}/plain`;
		const a = await get(p, { 'User-Agent': DESKTOP });
		const b = await get(p, { 'User-Agent': PHONE, 'Sec-CH-UA-Mobile': '?1' });
		assert.match(st(b), /hit/, 'one entry for every class');
		assert.equal(widthOf(b), 500);
		assert.equal(a.headers.get('vary'), null);
		assert.equal(b.headers.get('vary'), null);
	});

	test('new options remake the overrides; bad overrides are refused', { timeout: T }, async () => {
		const pa = await L.api(srv, 'PATCH', '/v1/variants/hero', { options: { width: 1000, fit: 'contain' } });
		assert.equal(pa.status, 200, L.show(pa));
		const mob = await get(`/img/${id}/hero`, { 'Sec-CH-UA-Mobile': '?1' });
		assert.equal(widthOf(mob), 640);
		const desk = await get(`/img/${id}/hero`, { 'Sec-CH-UA-Mobile': '?0' });
		assert.equal(widthOf(desk), 1000);
		const auto = await L.api(srv, 'PATCH', '/v1/variants/hero', { devices: { mobile: { width: 'auto' } } });
		assert.equal(auto.status, 200, L.show(auto));
		const m = await get(`/img/${id}/hero`, { 'Sec-CH-UA-Mobile': '?1', 'Sec-CH-Width': '700' });
		assert.equal(widthOf(m), 768, 'width=auto inside an override');
		assert.deepEqual(vary(m), ['Sec-CH-Width', 'Sec-CH-UA-Mobile']);
		const t = await get(`/img/${id}/hero`, { 'User-Agent': IPAD });
		assert.equal(widthOf(t), 1000, 'the tablet override is gone');

		for (const [devices, code] of [
			[{ phone: { width: 1 } }, 'invalid_request'],
			[{ mobile: {} }, 'invalid_request'],
			[{ mobile: { width: 0 } }, 'invalid_option'],
			[[], 'invalid_request'],
		]) {
			const r = await L.api(srv, 'PATCH', '/v1/variants/hero', { devices });
			assert.equal(r.status, 400, L.show(r));
			assert.equal(L.errCode(r), code, L.show(r));
		}
		const off = await L.api(srv, 'PATCH', '/v1/variants/hero', { devices: null });
		assert.equal(off.status, 200, L.show(off));
		assert.equal(off.json.result.variant.devices, undefined);
		const plain = await get(`/img/${id}/hero`, { 'Sec-CH-UA-Mobile': '?1' });
		assert.equal(widthOf(plain), 1000);
		assert.equal(plain.headers.get('vary'), null);
	});
});

describe('srcset helper', () => {
	let srv;
	let id;
	let signedId;
	before(async () => {
		srv = await L.startServer();
		const a = await L.upload(srv, L.makePng(1000, 40, 'srcset'));
		const b = await L.upload(srv, L.makePng(1000, 40, 'srcset-signed'), { requireSignedURLs: true });
		assert.equal(a.status, 201, L.show(a));
		assert.equal(b.status, 201, L.show(b));
		id = a.record.id;
		signedId = b.record.id;
		const v = await L.api(srv, 'POST', '/v1/variants', { id: 'card', options: { fit: 'cover', height: 20, background: '#ffffff' } });
		assert.equal(v.status, 200, L.show(v));
	});
	after(async () => {
		await srv?.kill();
	});

	// Load every URL of the answer; each must serve its width.
	async function loadAll(res) {
		const set = res.json.result;
		const parts = set.srcset.split(', ').map((s) => s.split(' '));
		assert.equal(parts.length, set.urls.length);
		for (const [i, [url, w]] of parts.entries()) {
			assert.equal(url, set.urls[i].url);
			assert.equal(w, `${set.urls[i].width}w`);
			const u = new URL(url);
			const r = await L.req(srv, 'GET', u.pathname + u.search);
			assert.equal(r.status, 200, L.show(r));
			assert.equal(L.probe(r.body).width, set.urls[i].width, url);
		}
		return set;
	}

	test('widths, sizes and a variant; every URL loads at its width', { timeout: T }, async () => {
		const r = await L.api(srv, 'GET', `/v1/images/${id}/srcset?variant=card&widths=640,320,1280,320&sizes=${encodeURIComponent('(max-width: 640px) 100vw, 640px')}`);
		assert.equal(r.status, 200, L.show(r));
		const set = await loadAll(r);
		assert.deepEqual(set.urls.map((u) => u.width), [320, 640, 1000], 'sorted, distinct, capped at the original');
		assert.equal(set.sizes, '(max-width: 640px) 100vw, 640px');
		assert.equal(set.signed, false);
		assert.match(set.urls[0].url, /\/img\/[^/]+\/width=320,height=20,fit=cover,background=%23ffffffff$/);
		assert.equal(set.src, set.urls[1].url);
	});

	test('default widths are the width steps up to the original', { timeout: T }, async () => {
		const r = await L.api(srv, 'GET', `/v1/images/${id}/srcset`);
		assert.equal(r.status, 200, L.show(r));
		assert.deepEqual(r.json.result.urls.map((u) => u.width), [320, 480, 640, 768, 960, 1000]);
	});

	test('signed images get signed URLs that verify', { timeout: T }, async () => {
		const r = await L.api(srv, 'GET', `/v1/images/${signedId}/srcset?widths=320,640&ttl=600`);
		assert.equal(r.status, 200, L.show(r));
		const set = await loadAll(r);
		assert.equal(set.signed, true);
		for (const { url } of set.urls) {
			const u = new URL(url);
			const exp = Number(u.searchParams.get('exp'));
			assert.ok(exp > L.now() + 500 && exp <= L.now() + 601, url);
			assert.equal(u.searchParams.get('sig'), L.sign(u.pathname, srv.signingKeys[0], exp));
			const bare = await L.req(srv, 'GET', u.pathname);
			assert.equal(bare.status, 403, 'the same path unsigned is refused');
		}
	});

	test('bad requests', { timeout: T }, async () => {
		for (const [q, status, code] of [
			['widths=0', 400, 'invalid_request'],
			['widths=abc', 400, 'invalid_request'],
			['widths=320,', 400, 'invalid_request'],
			['widths=9000', 400, 'invalid_request'],
			[`widths=${Array.from({ length: 17 }, (_, i) => i + 1).join(',')}`, 400, 'invalid_request'],
			['ttl=0', 400, 'invalid_request'],
			['variant=nope', 404, 'variant_not_found'],
		]) {
			const r = await L.api(srv, 'GET', `/v1/images/${id}/srcset?${q}`);
			assert.equal(r.status, status, `${q}: ${L.show(r)}`);
			assert.equal(L.errCode(r), code, q);
		}
		const missing = await L.api(srv, 'GET', '/v1/images/no-such-image/srcset');
		assert.equal(missing.status, 404, L.show(missing));
		const anon = await L.req(srv, 'GET', `/v1/images/${id}/srcset`);
		assert.equal(anon.status, 401, L.show(anon));
	});

	// `pictor srcset` beside the serving daemon: the same answer from the
	// same store (the variant was made over HTTP), the same errors.
	test('pictor srcset prints the endpoint\'s answer', { timeout: T }, async () => {
		const cli = (...args) => L.runCli(['srcset', ...args, '--data', srv.dataDir, '--public-url', srv.base]);
		const sizes = '(max-width: 640px) 100vw, 640px';
		const http = await L.api(srv, 'GET', `/v1/images/${id}/srcset?variant=card&widths=640,320,1280&sizes=${encodeURIComponent(sizes)}`);
		assert.equal(http.status, 200, L.show(http));
		const c = await cli(id, '--variant', 'card', '--widths', '640,320,1280', `--sizes=${sizes}`);
		assert.equal(c.code, 0, c.stderr);
		assert.deepEqual(JSON.parse(c.stdout), http.json.result);
		await loadAll({ json: { result: JSON.parse(c.stdout) } });

		const dflt = await cli(id);
		assert.equal(dflt.code, 0, dflt.stderr);
		assert.deepEqual(JSON.parse(dflt.stdout), (await L.api(srv, 'GET', `/v1/images/${id}/srcset`)).json.result);

		// signed: same paths, signatures that verify with the daemon's key
		const s = await cli(signedId, '--widths', '320,640', '--ttl', '600');
		assert.equal(s.code, 0, s.stderr);
		const set = await loadAll({ json: { result: JSON.parse(s.stdout) } });
		assert.equal(set.signed, true);
		const hs = (await L.api(srv, 'GET', `/v1/images/${signedId}/srcset?widths=320,640&ttl=600`)).json.result;
		assert.deepEqual(set.urls.map((u) => new URL(u.url).pathname), hs.urls.map((u) => new URL(u.url).pathname));
		for (const { url } of set.urls) {
			const u = new URL(url);
			const exp = Number(u.searchParams.get('exp'));
			assert.ok(exp > L.now() + 500 && exp <= L.now() + 601, url);
			assert.equal(u.searchParams.get('sig'), L.sign(u.pathname, srv.signingKeys[0], exp));
		}

		for (const [args, code] of [
			[[id, '--widths', '0'], 'invalid_request'],
			[[id, '--widths', '320,'], 'invalid_request'],
			[[id, '--ttl', '0'], 'invalid_request'],
			[[id, '--variant', 'nope'], 'variant_not_found'],
			[['no-such-image'], 'not_found'],
		]) {
			const r = await cli(...args);
			assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
			assert.equal(r.stdout, '');
			assert.match(r.stderr, new RegExp(`\\(${code}\\)\n$`), args.join(' '));
		}
		const usage = await cli();
		assert.equal(usage.code, 2);
		assert.match(usage.stderr, /needs one image ID/);
		const typo = await cli(id, '--widht', '320');
		assert.equal(typo.code, 2);
		assert.match(typo.stderr, /did you mean "--widths"/);
		const help = await L.runCli(['srcset', '--help']);
		assert.equal(help.code, 0);
		for (const flag of ['--variant', '--widths', '--sizes', '--ttl', '--data', '--public-url'])
			assert.ok(help.stdout.includes(flag), flag);
		const notData = await L.runCli(['srcset', id, '--data', await L.tmpDir()]);
		assert.equal(notData.code, 1);
		// (with PostgreSQL the records are not in the directory: its missing
		// secrets file is what is wrong with it)
		assert.match(notData.stderr, L.PG ? /no secrets file/ : /is not a Pictor data directory/);
	});
});
