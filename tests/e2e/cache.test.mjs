// The result cache: hits after misses, one entry per canonical key, HEAD
// from the cache, RFC 9211 Cache-Status, coalesced cold requests, the disk
// tier across restarts and damage, both size bounds, and that a block, a
// delete or requireSignedURLs applies to the very next request.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;

async function metric(srv, name) {
	const r = await L.req(srv, 'GET', '/metrics');
	const line = r.text.split('\n').find((l) => l.startsWith(name + ' '));
	assert.ok(line, `no metric ${name}`);
	return Number(line.slice(name.length + 1));
}

const status = (r) => r.headers.get('cache-status');

// Sum of the sizes of the files under dir.
function du(dir) {
	let n = 0;
	for (const f of L.walk(dir)) n += fs.statSync(path.join(dir, f)).size;
	return n;
}

describe('memory tier and coalescing', () => {
	let srv, id;
	before(async () => {
		srv = await L.startServer();
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.equal(up.status, 201, L.show(up));
		id = up.record.id;
	});
	after(() => srv?.kill());
	const get = (v, method = 'GET', headers = {}) => L.req(srv, method, `/img/${id}/${v}`, { headers });

	test('a hit after a miss: same bytes, same ETag, no render', { timeout: T }, async () => {
		const r0 = await metric(srv, 'pictor_renders_total');
		const a = await get('w=120,h=90,f=png');
		assert.equal(a.status, 200, L.show(a));
		assert.equal(status(a), 'pictor; fwd=uri-miss; stored');
		const b = await get('w=120,h=90,f=png');
		assert.equal(status(b), 'pictor; hit');
		assert.ok(a.body.equals(b.body));
		assert.equal(b.headers.get('etag'), a.headers.get('etag'));
		assert.equal(b.headers.get('content-type'), 'image/png');
		assert.equal(await metric(srv, 'pictor_renders_total'), r0 + 1);
	});

	test('option order, aliases and defaults share one entry', { timeout: T }, async () => {
		const r0 = await metric(srv, 'pictor_renders_total');
		const first = await get('w=130,h=70,fit=scale-down,f=png');
		assert.equal(status(first), 'pictor; fwd=uri-miss; stored');
		for (const v of ['h=70,w=130,f=png', 'height=70,width=130,format=png', 'fit=scale-down,f=png,w=130,h=70']) {
			const r = await get(v);
			assert.equal(status(r), 'pictor; hit', v);
			assert.ok(r.body.equals(first.body), v);
		}
		const cdn = await L.req(srv, 'GET', `/cdn-cgi/image/format=png,width=130,height=70/${id}`);
		assert.equal(status(cdn), 'pictor; hit');
		assert.equal(await metric(srv, 'pictor_renders_total'), r0 + 1);
	});

	test('HEAD is answered from the cache with the body\'s length', { timeout: T }, async () => {
		const g = await get('w=140,f=webp');
		const r0 = await metric(srv, 'pictor_renders_total');
		const h = await get('w=140,f=webp', 'HEAD');
		assert.equal(h.status, 200);
		assert.equal(status(h), 'pictor; hit');
		assert.equal(Number(h.headers.get('content-length')), g.body.length);
		assert.equal(h.body.length, 0);
		assert.equal(await metric(srv, 'pictor_renders_total'), r0);
	});

	test('50 concurrent identical cold requests: one render, 50 identical bodies', { timeout: T }, async () => {
		const r0 = await metric(srv, 'pictor_renders_total');
		const c0 = await metric(srv, 'pictor_cache_coalesced_total');
		const all = await Promise.all(Array.from({ length: 50 }, () => get('w=1500,h=1500,fit=pad,f=png')));
		for (const r of all) {
			assert.equal(r.status, 200, L.show(r));
			assert.ok(r.body.equals(all[0].body));
		}
		assert.equal(await metric(srv, 'pictor_renders_total'), r0 + 1);
		const kinds = all.map(status);
		assert.equal(kinds.filter((k) => k === 'pictor; fwd=uri-miss; stored').length, 1, kinds.join('\n'));
		const collapsed = kinds.filter((k) => k === 'pictor; fwd=uri-miss; collapsed').length;
		assert.equal(collapsed + kinds.filter((k) => k === 'pictor; hit').length, 49);
		assert.equal(await metric(srv, 'pictor_cache_coalesced_total'), c0 + collapsed);
	});

	test('a cached variant: 403 right after a block, 403 signature_required right after requireSignedURLs, 404 right after delete', { timeout: T }, async () => {
		const ids = [];
		for (let i = 0; i < 3; i++) {
			const up = await L.upload(srv, L.makePng(64, 48, 100 + i), { filename: `p${i}.png` });
			assert.equal(up.status, 201, L.show(up));
			ids.push(up.record.id);
		}
		const warm = async (i) => {
			await L.req(srv, 'GET', `/img/${i}/w=32`);
			const r = await L.req(srv, 'GET', `/img/${i}/w=32`);
			assert.equal(status(r), 'pictor; hit');
		};
		for (const i of ids) await warm(i);

		const blk = await L.api(srv, 'POST', `/v1/images/${ids[0]}/moderation`, { action: 'block' });
		assert.equal(blk.status, 200, L.show(blk));
		const r0 = await L.req(srv, 'GET', `/img/${ids[0]}/w=32`);
		assert.equal(r0.status, 404, L.show(r0));
		assert.equal(L.errCode(r0), 'not_available');

		const p = await L.api(srv, 'PATCH', `/v1/images/${ids[1]}`, { requireSignedURLs: true });
		assert.equal(p.status, 200, L.show(p));
		const r1 = await L.req(srv, 'GET', `/img/${ids[1]}/w=32`);
		assert.equal(r1.status, 403, L.show(r1));
		assert.equal(L.errCode(r1), 'signature_required');

		const d = await L.api(srv, 'DELETE', `/v1/images/${ids[2]}`);
		assert.equal(d.status, 200, L.show(d));
		const r2 = await L.req(srv, 'GET', `/img/${ids[2]}/w=32`);
		assert.equal(r2.status, 404, L.show(r2));
		// refused before the lookup: the cache took no part
		for (const r of [r0, r1, r2]) assert.equal(status(r), 'pictor; fwd=bypass');
	});

	test('f=json answers are stored and hit like images', { timeout: T }, async () => {
		const a = await get('w=70,f=json');
		assert.equal(a.status, 200, L.show(a));
		assert.equal(a.headers.get('content-type'), 'application/json');
		assert.equal(status(a), 'pictor; fwd=uri-miss; stored');
		assert.equal(JSON.parse(a.body.toString()).width, 70);
		const b = await get('width=70,format=json');
		assert.equal(status(b), 'pictor; hit');
		assert.ok(b.body.equals(a.body));
		assert.equal(b.headers.get('etag'), a.headers.get('etag'));
		assert.equal(b.headers.get('content-type'), 'application/json');
		const h = await get('w=70,f=json', 'HEAD');
		assert.equal(status(h), 'pictor; hit');
		assert.equal(Number(h.headers.get('content-length')), a.body.length);
	});

	test('Cache-Status on 304s and on answers refused before the lookup', { timeout: T }, async () => {
		const a = await get('w=110,f=png');
		assert.equal(a.status, 200, L.show(a));
		const inm = { 'If-None-Match': a.headers.get('etag') };
		const stored = await get('w=110,f=png', 'GET', inm);
		assert.equal(stored.status, 304);
		assert.equal(status(stored), 'pictor; hit');
		const p = await L.api(srv, 'POST', '/v1/cache/purge', { images: [id] });
		assert.equal(p.status, 200, L.show(p));
		const r0 = await metric(srv, 'pictor_renders_total');
		const gone = await get('w=110,f=png', 'GET', inm);
		assert.equal(gone.status, 304);
		assert.equal(status(gone), 'pictor; fwd=uri-miss; fwd-status=304');
		assert.equal(await metric(srv, 'pictor_renders_total'), r0);
		for (const [p2, code] of [['/img/no-such-image/w=10', 404], [`/img/${id}/no-such-variant`, 404],
			[`/img/${id}/w=10,bogus=1`, 400], ['/img/x', 404]]) {
			const r = await L.req(srv, 'GET', p2);
			assert.equal(r.status, code, `${p2}: ${L.show(r)}`);
			assert.equal(status(r), 'pictor; fwd=bypass', p2);
		}
	});
});

describe('placeholders and the coalescing wait bound', () => {
	let srv, id, slow;
	before(async () => {
		// One worker, so a render can be made to wait behind another.
		srv = await L.startServer({ args: ['--moderation-placeholder', 'on', '--workers', '1', '--cache-wait', '1s'] });
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.equal(up.status, 201, L.show(up));
		id = up.record.id;
		const big = await L.upload(srv, path.join(L.CORPUS, 'Gulp.png'));
		assert.equal(big.status, 201, L.show(big));
		slow = big.record.id;
	});
	after(() => srv?.kill());
	const get = (v) => L.req(srv, 'GET', `/img/${id}/${v}`);
	const review = (action) => L.api(srv, 'POST', `/v1/images/${id}/moderation`, { action });

	test('a placeholder renders once, under its own key; approval switches back at once', { timeout: T }, async () => {
		const real = await get('w=60,f=png');
		assert.equal(real.status, 200, L.show(real));
		assert.equal(status(await get('w=60,f=png')), 'pictor; hit');
		assert.equal((await review('block')).status, 200);
		const p1 = await get('w=60,f=png');
		assert.equal(p1.status, 200, L.show(p1));
		assert.equal(p1.headers.get('x-pictor-placeholder'), 'moderation');
		assert.equal(p1.headers.get('cache-control'), 'no-store');
		assert.equal(status(p1), 'pictor; fwd=uri-miss; stored');
		assert.ok(!p1.body.equals(real.body));
		const r0 = await metric(srv, 'pictor_renders_total');
		const p2 = await get('w=60,f=png');
		assert.equal(status(p2), 'pictor; hit');
		assert.equal(p2.headers.get('x-pictor-placeholder'), 'moderation');
		assert.equal(p2.headers.get('cache-control'), 'no-store');
		assert.ok(p2.body.equals(p1.body));
		assert.equal(await metric(srv, 'pictor_renders_total'), r0);
		assert.equal((await review('approve')).status, 200);
		const back = await get('w=60,f=png');
		assert.equal(back.status, 200, L.show(back));
		assert.equal(back.headers.get('x-pictor-placeholder'), null);
		assert.ok(back.body.equals(real.body));
	});

	test('a request waiting longer than --cache-wait answers 503 render_timeout', { timeout: 3 * T }, async () => {
		const t0 = await metric(srv, 'pictor_cache_wait_timeouts_total');
		// The one worker is busy with a large AVIF encode (seconds on an
		// idle machine, far longer on a loaded one); the leader for the
		// next key waits behind it, and a second request joins the leader.
		const long = { timeout: 300000 };
		const busy = L.req(srv, 'GET', `/img/${slow}/w=1900,f=avif`, long);
		await L.sleep(200);
		const leader = L.req(srv, 'GET', `/img/${slow}/w=1800,f=avif`, long);
		await L.sleep(200);
		const late = await L.req(srv, 'GET', `/img/${slow}/w=1800,f=avif`);
		assert.equal(late.status, 503, L.show(late));
		assert.equal(L.errCode(late), 'render_timeout');
		assert.equal(late.headers.get('retry-after'), '1');
		assert.equal(status(late), 'pictor; fwd=uri-miss; collapsed');
		assert.equal((await busy).status, 200);
		const first = await leader;
		assert.equal(first.status, 200, L.show(first));
		assert.equal(status(first), 'pictor; fwd=uri-miss; stored');
		assert.equal(await metric(srv, 'pictor_cache_wait_timeouts_total'), t0 + 1);
	});
});

describe('disk tier', () => {
	let srv, id, dataDir;
	// lazy: the upload stores no console thumbnail, so the files counted
	// below are the two variants
	const args = ['--cache-memory', '0', '--console-thumbnails', 'lazy'];
	before(async () => {
		srv = await L.startServer({ args });
		dataDir = srv.dataDir;
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.equal(up.status, 201, L.show(up));
		id = up.record.id;
	});
	after(() => srv?.kill());

	test('a restart keeps disk hits; a damaged or truncated entry is a miss and is replaced', { timeout: T }, async () => {
		const a = await L.req(srv, 'GET', `/img/${id}/w=150,f=png`);
		assert.equal(status(a), 'pictor; fwd=uri-miss; stored');
		const b = await L.req(srv, 'GET', `/img/${id}/w=160,f=png`);
		assert.equal(status(b), 'pictor; fwd=uri-miss; stored');
		await srv.stop();
		srv = await L.startServer({ args, dataDir });
		const a2 = await L.req(srv, 'GET', `/img/${id}/w=150,f=png`);
		assert.ok(a2.body.equals(a.body));
		assert.equal(a2.headers.get('etag'), a.headers.get('etag'));
		// On a shared store too: purges sent while the node was down are
		// replayed from the store's purge log, the rest is kept
		// (docs/ARCHITECTURE.md, "Several nodes").
		assert.equal(status(a2), 'pictor; hit');
		assert.equal(await metric(srv, 'pictor_cache_requests_total{tier="disk",result="hit"}'), 1);

		const files = L.walk(path.join(dataDir, 'cache')).filter((f) => !f.startsWith('tmp/'))
			.map((f) => path.join(dataDir, 'cache', f));
		assert.equal(files.length, 2);
		// one byte flipped in the body of one, the other cut short
		const flip = fs.readFileSync(files[0]);
		flip[flip.length - 10] ^= 0xff;
		fs.writeFileSync(files[0], flip);
		fs.truncateSync(files[1], fs.statSync(files[1]).size - 100);
		for (const [v, good] of [['w=150,f=png', a.body], ['w=160,f=png', b.body]]) {
			const r = await L.req(srv, 'GET', `/img/${id}/${v}`);
			assert.equal(r.status, 200, L.show(r));
			assert.equal(status(r), 'pictor; fwd=uri-miss; stored', v);
			assert.ok(r.body.equals(good), v);
			const again = await L.req(srv, 'GET', `/img/${id}/${v}`);
			assert.equal(status(again), 'pictor; hit', v);
			assert.ok(again.body.equals(good), v);
		}
	});
});

describe('size bounds', () => {
	let srv, id;
	const MEM = 150000, DISK = 250000;
	before(async () => {
		srv = await L.startServer({ args: ['--cache-memory', String(MEM), '--cache-disk', String(DISK)] });
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		assert.equal(up.status, 201, L.show(up));
		id = up.record.id;
	});
	after(() => srv?.kill());

	test('both bounds hold under a stream of distinct variants', { timeout: T }, async () => {
		let sent = 0;
		for (let w = 200; w < 240; w++) {
			const r = await L.req(srv, 'GET', `/img/${id}/w=${w},f=png`);
			assert.equal(r.status, 200, L.show(r));
			sent += r.body.length;
			assert.ok(await metric(srv, 'pictor_cache_bytes{tier="memory"}') <= MEM);
			assert.ok(await metric(srv, 'pictor_cache_bytes{tier="disk"}') <= DISK);
		}
		assert.ok(sent > 2 * DISK, `the stream (${sent} bytes) must overflow both tiers`);
		assert.ok(await metric(srv, 'pictor_cache_evictions_total{tier="memory"}') > 0);
		assert.ok(await metric(srv, 'pictor_cache_evictions_total{tier="disk"}') > 0);
		assert.ok(du(path.join(srv.dataDir, 'cache')) <= DISK);
		// the newest variant is still cached
		const r = await L.req(srv, 'GET', `/img/${id}/w=239,f=png`);
		assert.equal(status(r), 'pictor; hit');
	});
});

describe('a failing render', () => {
	let srv, id, slow;
	before(async () => {
		// One worker, so the failing render waits behind a slow one while
		// every request for it arrives.
		srv = await L.startServer({ args: ['--workers', '1'] });
		const bytes = fs.readFileSync(path.join(L.INPUTS, 'rgb.jpg'));
		const up = await L.upload(srv, bytes);
		assert.equal(up.status, 201, L.show(up));
		id = up.record.id;
		const big = await L.upload(srv, path.join(L.CORPUS, 'Gulp.png'));
		assert.equal(big.status, 201, L.show(big));
		slow = big.record.id;
		// The stored original disappears behind the daemon's back: every
		// render of it fails.
		const sha = L.sha256(bytes);
		L.blobDelete(srv.dataDir, sha);
	});
	after(() => srv?.kill());

	test('reaches every coalesced waiter, and is not cached', { timeout: T }, async () => {
		const c0 = await metric(srv, 'pictor_cache_coalesced_total');
		const busy = L.req(srv, 'GET', `/img/${slow}/w=3000,f=png`);
		await L.sleep(100);
		const all = await Promise.all(Array.from({ length: 20 }, () =>
			L.req(srv, 'GET', `/img/${id}/w=90,f=png`)));
		assert.equal((await busy).status, 200);
		const first = all[0];
		assert.ok(first.status >= 400, L.show(first));
		for (const r of all) {
			assert.equal(r.status, first.status, L.show(r));
			assert.equal(L.errCode(r), L.errCode(first));
		}
		const collapsed = all.filter((r) => status(r) === 'pictor; fwd=uri-miss; collapsed').length;
		assert.ok(collapsed > 0);
		assert.equal(await metric(srv, 'pictor_cache_coalesced_total'), c0 + collapsed);
		const again = await L.req(srv, 'GET', `/img/${id}/w=90,f=png`);
		assert.equal(again.status, first.status);
		assert.equal(status(again), 'pictor; fwd=uri-miss');
	});
});

describe('purge', () => {
	let srv, hook, hookUrl, a, b, events;
	before(async () => {
		hook = await L.webhookReceiver(() => 204);
		({ url: hookUrl, events } = hook);
		srv = await L.startServer({ args: ['--webhook-url', hookUrl, '--webhook-secret', 'whsec-cache'] });
		const ua = await L.upload(srv, L.makePng(80, 60, 7), { filename: 'a.png' });
		const ub = await L.upload(srv, L.makePng(80, 60, 8), { filename: 'b.png' });
		assert.equal(ua.status, 201, L.show(ua));
		assert.equal(ub.status, 201, L.show(ub));
		a = ua.record.id;
		b = ub.record.id;
	});
	after(async () => {
		await srv?.kill();
		await hook?.close();
	});
	const get = (id, v) => L.req(srv, 'GET', `/img/${id}/${v}`);
	const purge = (body, opts) => L.api(srv, 'POST', '/v1/cache/purge', body, opts);
	async function event(reason) {
		for (let i = 0; i < 200; i++) {
			const e = events.find((x) => x.event === 'cache.purge' && x.reason === reason);
			if (e) return e;
			await L.sleep(50);
		}
		assert.fail(`no cache.purge event with reason ${reason}: ${JSON.stringify(events)}`);
	}
	async function warm(pairs) {
		for (const [id, v] of pairs) {
			await get(id, v);
			assert.equal(status(await get(id, v)), 'pictor; hit', `${id}/${v}`);
		}
	}

	test('by image: only that image\'s variants go, and a CDN is told its URLs', { timeout: T }, async () => {
		await warm([[a, 'w=40'], [a, 'thumbnail'], [b, 'w=40']]);
		const r = await purge({ images: [a] });
		assert.equal(r.status, 200, L.show(r));
		assert.ok(r.json.result.removed >= 2, L.show(r));
		assert.equal(status(await get(a, 'w=40')), 'pictor; fwd=uri-miss; stored');
		assert.equal(status(await get(a, 'thumbnail')), 'pictor; fwd=uri-miss; stored');
		assert.equal(status(await get(b, 'w=40')), 'pictor; hit');
		const e = await event('purge');
		assert.deepEqual(e.images, [a]);
		assert.ok(e.urls.includes(`${srv.base}/img/${a}/thumbnail`), JSON.stringify(e.urls));
		assert.ok(e.urls.includes(`${srv.base}/img/${a}/public`), JSON.stringify(e.urls));
		assert.ok(e.patterns.includes(`${srv.base}/img/${a}/*`), JSON.stringify(e.patterns));
	});

	test('by variant, then everything', { timeout: T }, async () => {
		await warm([[a, 'thumbnail'], [b, 'thumbnail'], [b, 'w=41']]);
		const v = await purge({ variants: ['thumbnail'] });
		assert.equal(v.status, 200, L.show(v));
		assert.ok(v.json.result.removed >= 2);
		assert.equal(status(await get(a, 'thumbnail')), 'pictor; fwd=uri-miss; stored');
		assert.equal(status(await get(b, 'w=41')), 'pictor; hit');
		const all = await purge({ everything: true });
		assert.equal(all.status, 200, L.show(all));
		assert.equal(status(await get(b, 'w=41')), 'pictor; fwd=uri-miss; stored');
		assert.equal(await metric(srv, 'pictor_cache_entries{tier="memory"}'), 1);
	});

	test('a delete purges and tells the CDN', { timeout: T }, async () => {
		await warm([[b, 'w=42']]);
		const before = await metric(srv, 'pictor_cache_entries{tier="disk"}');
		const d = await L.api(srv, 'DELETE', `/v1/images/${b}`);
		assert.equal(d.status, 200, L.show(d));
		assert.ok(await metric(srv, 'pictor_cache_entries{tier="disk"}') < before);
		const e = await event('delete');
		assert.deepEqual(e.images, [b]);
		assert.ok(e.urls.includes(`${srv.base}/img/${b}/public`));
	});

	test('bad bodies answer 400, unknown images 404, and the route needs the admin token', { timeout: T }, async () => {
		for (const body of [{}, { images: [] }, { images: 'x' }, { images: [1] }, { everything: 'yes' },
			{ variants: Array(101).fill('v') }, '[', { everything: false }]) {
			const r = await purge(body);
			assert.equal(r.status, 400, `${JSON.stringify(body)}: ${L.show(r)}`);
			assert.equal(L.errCode(r), 'invalid_request');
		}
		const nf = await purge({ images: ['no-such-image'] });
		assert.equal(nf.status, 404, L.show(nf));
		const anon = await purge({ everything: true }, { auth: false });
		assert.equal(anon.status, 401);
	});
});
