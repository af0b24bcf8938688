// Delivery: /img/{id}/{variant|options}: fit modes and sizes, dpr, named
// variants, option errors, format negotiation, and HTTP caching headers.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
let srv;
let sq; // rgb.jpg, 320x320
let wide; // generated 400x200 PNG
let alpha; // gray-alpha.png

before(async () => {
	srv = await L.startServer();
	const a = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
	const b = await L.upload(srv, L.makePng(400, 200, 'wide'), { filename: 'wide.png' });
	const c = await L.upload(srv, path.join(L.INPUTS, 'gray-alpha.png'));
	for (const r of [a, b, c]) assert.equal(r.status, 201, L.show(r));
	sq = a.record.id;
	wide = b.record.id;
	alpha = c.record.id;
});
after(async () => {
	await srv?.kill();
});

const get = (id, v, headers = {}, method = 'GET') => L.req(srv, method, `/img/${id}/${v}`, { headers });

async function dims(id, v) {
	const r = await get(id, v, { Accept: 'image/png' });
	assert.equal(r.status, 200, L.show(r));
	const p = L.probe(r.body);
	return [p.width, p.height];
}

describe('fit modes and sizes', () => {
	// [options, [w, h]] for the 320x320 image
	const SQUARE = [
		['w=200,h=100,fit=scale-down', [100, 100]],
		['w=640,h=480,fit=scale-down', [320, 320]],
		['w=200,fit=scale-down', [200, 200]],
		['w=640,fit=scale-down', [320, 320]],
		['h=100', [100, 100]],
		['w=200,h=100', [100, 100]],
		['w=640,h=480', [320, 320]],
		['w=200,h=100,fit=contain', [100, 100]],
		['w=640,h=480,fit=contain', [480, 480]],
		['w=640,fit=contain', [640, 640]],
		['w=200,fit=contain', [200, 200]],
		['w=200,h=100,fit=cover', [200, 100]],
		['w=640,h=480,fit=cover', [640, 480]],
		['w=200,fit=cover', [200, 200]],
		['w=200,h=100,fit=crop', [200, 100]],
		['w=640,h=480,fit=crop', [320, 320]],
		['w=200,fit=crop', [200, 200]],
		['w=640,fit=crop', [320, 320]],
		['w=200,h=100,fit=pad', [200, 100]],
		['w=640,h=480,fit=pad', [640, 480]],
		['w=200,fit=pad', [200, 200]],
		['width=150,height=150,fit=cover,gravity=left', [150, 150]],
		['w=100,h=50,fit=cover,g=0.2x0.8', [100, 50]],
		['w=100,h=50,fit=cover,g=auto', [100, 50]],
		['w=100,h=50,fit=pad,background=%23ff0000', [100, 50]],
		['w=100,h=50,fit=pad,background=%23f00', [100, 50]],
		['w=100,h=50,fit=pad,background=%23ff000080', [100, 50]],
	];
	for (const [opts, want] of SQUARE) {
		test(`320x320 ${opts} -> ${want.join('x')}`, { timeout: T }, async () => {
			assert.deepEqual(await dims(sq, `${opts},f=png`), want);
		});
	}
	// the 400x200 image
	const WIDE = [
		['w=100,h=100', [100, 50]],
		['w=100,h=100,fit=scale-down', [100, 50]],
		['h=100', [200, 100]],
		['w=800,h=800,fit=scale-down', [400, 200]],
		['w=800,h=800,fit=contain', [800, 400]],
		['w=100,h=100,fit=contain', [100, 50]],
		['w=100,h=100,fit=cover', [100, 100]],
		['w=100,h=200,fit=cover', [100, 200]],
		['w=100,h=100,fit=crop', [100, 100]],
		['w=800,h=800,fit=crop', [400, 200]],
		['w=100,h=100,fit=pad', [100, 100]],
		['w=800,h=800,fit=pad', [800, 800]],
		['w=200,fit=pad', [200, 100]],
	];
	for (const [opts, want] of WIDE) {
		test(`400x200 ${opts} -> ${want.join('x')}`, { timeout: T }, async () => {
			assert.deepEqual(await dims(wide, `${opts},f=png`), want);
		});
	}

	test('fit=pad fills the box with the background colour', { timeout: T }, async () => {
		const r = await get(wide, 'w=100,h=100,fit=pad,background=%23ff0000,f=png');
		const img = L.decodePng(r.body);
		const px = (x, y) => [...img.data.subarray((y * 100 + x) * img.channels, (y * 100 + x) * img.channels + 3)];
		assert.deepEqual(px(50, 2), [255, 0, 0], 'top band is the background');
		assert.deepEqual(px(50, 97), [255, 0, 0], 'bottom band is the background');
	});

	test('dpr multiplies width and height', { timeout: T }, async () => {
		assert.deepEqual(await dims(sq, 'w=100,dpr=2,f=png'), [200, 200]);
		assert.deepEqual(await dims(sq, 'w=100,h=50,fit=cover,dpr=3,f=png'), [300, 150]);
		assert.deepEqual(await dims(sq, 'w=100,h=50,fit=cover,dpr=1,f=png'), [100, 50]);
		assert.deepEqual(await dims(sq, 'w=200,dpr=2,f=png'), [320, 320], 'scale-down still never enlarges');
	});

	test('quality changes the bytes, not the size', { timeout: T }, async () => {
		const lo = await get(sq, 'q=10,f=jpeg');
		const hi = await get(sq, 'q=95,f=jpeg');
		assert.equal(lo.status, 200);
		assert.ok(lo.body.length < hi.body.length, `q=10 ${lo.body.length} >= q=95 ${hi.body.length}`);
		assert.deepEqual([L.probe(lo.body).width, L.probe(hi.body).width], [320, 320]);
		const lo2 = await get(sq, 'quality=10,format=jpeg');
		assert.ok(lo2.body.equals(lo.body), 'long and short option names are the same');
	});
});

describe('named variants', () => {
	test('public is the original size', { timeout: T }, async () => {
		const r = await get(sq, 'public', { Accept: 'image/jpeg' });
		assert.equal(r.status, 200, L.show(r));
		const p = L.probe(r.body);
		assert.deepEqual([p.format, p.width, p.height], ['jpeg', 320, 320]);
		const w = L.probe((await get(wide, 'public', { Accept: 'image/jpeg' })).body);
		assert.deepEqual([w.width, w.height], [400, 200]);
	});
	test('thumbnail is 200x200', { timeout: T }, async () => {
		for (const id of [sq, wide]) {
			const r = await get(id, 'thumbnail', { Accept: 'image/jpeg' });
			assert.equal(r.status, 200, L.show(r));
			const p = L.probe(r.body);
			assert.deepEqual([p.width, p.height], [200, 200]);
		}
	});
	test('unknown variant -> 404 variant_not_found', { timeout: T }, async () => {
		for (const v of ['nosuchvariant', 'Public', 'thumb']) {
			const r = await get(sq, v);
			assert.equal(r.status, 404, L.show(r));
			assert.equal(L.errCode(r), 'variant_not_found', L.show(r));
		}
	});
	test('unknown image -> 404 not_available (anonymous)', { timeout: T }, async () => {
		for (const v of ['public', 'w=100']) {
			const r = await get('no-such-image', v);
			assert.equal(r.status, 404, L.show(r));
			assert.equal(L.errCode(r), 'not_available', L.show(r));
		}
	});
});

describe('invalid options', () => {
	const CASES = [
		['foo=1', /foo/],
		['w=0', /\bw\b|width/],
		['w=abc', /\bw\b|width/],
		['w=8193', /\bw\b|width/],
		['w=-5', /\bw\b|width/],
		['h=0', /\bh\b|height/],
		['width=1.5', /width/],
		['q=101', /\bq\b|quality/],
		['q=0', /\bq\b|quality/],
		['quality=abc', /quality/],
		['fit=bogus', /fit/],
		['dpr=4', /dpr/],
		['dpr=0', /dpr/],
		['f=bmp', /\bf\b|format/],
		['format=svg', /format/],
		['g=2x2', /\bg\b|gravity/],
		['gravity=middle', /gravity/],
		['background=nothing', /background/],
		['background=%23ggg', /background/],
		['metadata=all', /metadata/],
		['anim=maybe', /anim/],
		['w=100,w=abc', /\bw\b|width/],
	];
	for (const [opts, re] of CASES) {
		test(`${opts} -> 400 invalid_option${re ? ' naming ' + re : ''}`, { timeout: T }, async () => {
			const r = await get(sq, opts);
			assert.equal(r.status, 400, L.show(r));
			assert.equal(L.errCode(r), 'invalid_option', L.show(r));
			if (re) assert.match(L.errMessage(r) ?? '', re, `the message must name the option: ${L.show(r)}`);
		});
	}
});

describe('format negotiation', () => {
	const CASES = [
		['sq', 'image/avif,image/webp,*/*', 'avif'],
		['sq', 'image/avif', 'avif'],
		['sq', 'image/webp,*/*', 'webp'],
		['sq', 'text/html,image/webp;q=0.9', 'webp'],
		['sq', '*/*', 'jpeg'],
		['sq', 'image/jpeg', 'jpeg'],
		['sq', 'image/png', 'jpeg'],
		['alpha', '*/*', 'png'],
		['alpha', 'image/jpeg,image/png', 'png'],
		['alpha', 'image/webp,*/*', 'webp'],
		['alpha', 'image/avif,*/*', 'avif'],
	];
	for (const [which, accept, want] of CASES) {
		test(`f=auto, ${which === 'sq' ? 'rgb' : 'alpha'} image, Accept ${accept} -> ${want}`, { timeout: T }, async () => {
			const r = await get(which === 'sq' ? sq : alpha, 'f=auto,w=100', { Accept: accept });
			assert.equal(r.status, 200, L.show(r));
			assert.equal(r.headers.get('content-type'), `image/${want}`);
			assert.equal(L.probe(r.body).format, want);
			assert.match(r.headers.get('vary') ?? '', /\baccept\b/i, 'f=auto needs Vary: Accept');
			assert.equal(Number(r.headers.get('content-length')), r.body.length);
		});
	}
	test('no Accept header at all -> jpeg', { timeout: T }, async () => {
		const r = await L.rawRequest(srv, 'GET', `/img/${sq}/f=auto,w=50`);
		assert.equal(r.status, 200);
		assert.equal(L.probe(r.body).format, 'jpeg');
	});
	test('explicit formats: Content-Type and Content-Length match, alpha kept where possible', { timeout: T }, async () => {
		for (const f of ['jpeg', 'png', 'webp', 'avif']) {
			const r = await get(alpha, `f=${f},w=64`, { Accept: 'image/avif,image/webp,*/*' });
			assert.equal(r.status, 200, L.show(r));
			assert.equal(r.headers.get('content-type'), `image/${f}`);
			assert.equal(Number(r.headers.get('content-length')), r.body.length);
			const p = L.probe(r.body);
			assert.equal(p.format, f);
			assert.deepEqual([p.width, p.height], [64, 64]);
			if (f === 'png' || f === 'webp') assert.equal(p.alpha, true, `${f} keeps alpha`);
			assert.ok(!/accept/i.test(r.headers.get('vary') ?? ''), `explicit f=${f} needs no Vary: Accept`);
		}
	});
});

describe('caching headers', () => {
	test('HEAD: same headers as GET, no body', { timeout: T }, async () => {
		for (const v of ['w=120,f=webp', 'public', 'thumbnail']) {
			const g = await get(sq, v, { Accept: 'image/webp' });
			const h = await get(sq, v, { Accept: 'image/webp' }, 'HEAD');
			assert.equal(h.status, 200, L.show(h));
			assert.equal(h.body.length, 0);
			for (const k of ['content-type', 'content-length', 'etag', 'cache-control', 'vary']) {
				assert.equal(h.headers.get(k), g.headers.get(k), `${v}: ${k}`);
			}
			assert.equal(Number(h.headers.get('content-length')), g.body.length);
		}
	});

	test('ETag strong and stable; If-None-Match -> 304 without body', { timeout: T }, async () => {
		const a = await get(sq, 'w=100,f=jpeg');
		const et = a.headers.get('etag');
		assert.ok(et, 'ETag missing');
		assert.ok(!et.startsWith('W/'), `weak ETag ${et}`);
		assert.match(et, /^"[^"]+"$/, 'ETag is a quoted string');
		const b = await get(sq, 'w=100,f=jpeg');
		assert.equal(b.headers.get('etag'), et, 'same request, same ETag');
		const c = await get(sq, 'w=100,f=jpeg', { 'If-None-Match': et });
		assert.equal(c.status, 304, L.show(c));
		assert.equal(c.body.length, 0);
		assert.equal(c.headers.get('etag'), et, '304 repeats the ETag');
		const d = await get(sq, 'w=100,f=jpeg', { 'If-None-Match': `"nope", ${et}` });
		assert.equal(d.status, 304, 'a list of tags');
		const e = await get(sq, 'w=100,f=jpeg', { 'If-None-Match': '"other"' });
		assert.equal(e.status, 200);
		const hd = await get(sq, 'w=100,f=jpeg', { 'If-None-Match': et }, 'HEAD');
		assert.equal(hd.status, 304);
	});

	test('different options, different ETag; equivalent spellings, same ETag', { timeout: T }, async () => {
		const et = async (v, accept = '*/*') => {
			const r = await get(sq, v, { Accept: accept });
			assert.equal(r.status, 200, L.show(r));
			return r.headers.get('etag');
		};
		const base = await et('w=100,f=jpeg');
		assert.notEqual(await et('w=101,f=jpeg'), base);
		assert.notEqual(await et('w=100,f=png'), base);
		assert.notEqual(await et('w=100,f=jpeg,q=50'), base);
		assert.notEqual(await et('f=auto,w=100', 'image/jpeg'), await et('f=auto,w=100', 'image/webp'),
			'output format is part of the ETag');
		assert.equal(await et('w=400,h=300'), await et('height=300,width=400'));
		assert.equal(await et('w=100,f=jpeg'), await et('f=jpeg,width=100'));
		// a different image with the same options
		const r = await get(wide, 'w=100,f=jpeg');
		assert.notEqual(r.headers.get('etag'), base);
	});

	test('Cache-Control for unsigned URLs: --browser-ttl (2 days), never immutable', { timeout: T }, async () => {
		for (const v of ['public', 'thumbnail', 'w=77,f=png']) {
			const r = await get(sq, v);
			const cc = (r.headers.get('cache-control') ?? '').split(',').map((s) => s.trim().toLowerCase());
			for (const want of ['public', 'max-age=172800']) {
				assert.ok(cc.includes(want), `${v}: Cache-Control ${r.headers.get('cache-control')} lacks ${want}`);
			}
			// The URL stays the same when the image is blocked, deleted or
			// switched to signed URLs, so no cache may skip revalidation.
			assert.ok(!cc.includes('immutable'), `${v}: ${r.headers.get('cache-control')}`);
		}
	});

	test('errors are not cached forever', { timeout: T }, async () => {
		const r = await get(sq, 'w=abc');
		assert.equal(r.status, 400);
		assert.ok(!/immutable/.test(r.headers.get('cache-control') ?? ''), 'an error must not be immutable');
		assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
	});
});
