// Cloudflare-compatible transformations through the real server: the
// /cdn-cgi/image form, canonical cache keys, managed variants, the
// flexible-variant switch and allow-list, format=json, onerror=redirect,
// geometry of the pre- and post-resize operations, and a 400 naming the
// option for every invalid value.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
const servers = [];
let srv;
let id; // 320x320 JPEG
let wide; // 400x200 PNG

async function start(args = []) {
	const s = await L.startServer({ args });
	servers.push(s);
	return s;
}

before(async () => {
	srv = await start();
	const a = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
	assert.equal(a.status, 201, L.show(a));
	id = a.record.id;
	const b = await L.upload(srv, L.makePng(400, 200, 7), { filename: 'wide.png' });
	assert.equal(b.status, 201, L.show(b));
	wide = b.record.id;
});
after(async () => {
	for (const s of servers) await s.kill();
});

async function dims(s, url, headers = {}) {
	const r = await L.req(s, 'GET', url, { headers });
	assert.equal(r.status, 200, L.show(r));
	const p = L.probe(r.body);
	return { ...p, res: r };
}

describe('URL forms and cache keys', () => {
	test('/cdn-cgi/image/{options}/{id} renders like /img/{id}/{options}', { timeout: T }, async () => {
		const a = await dims(srv, `/cdn-cgi/image/w=100,f=png/${id}`);
		const b = await dims(srv, `/img/${id}/w=100,f=png`);
		assert.equal(a.width, 100);
		assert.equal(a.format, 'png');
		assert.equal(a.res.headers.get('etag'), b.res.headers.get('etag'));
		assert.ok(a.res.body.equals(b.res.body));
	});

	test('order, aliases and defaults do not change the ETag', { timeout: T }, async () => {
		const urls = [
			`/img/${id}/w=120,h=80,fit=cover,q=70,f=webp`,
			`/img/${id}/format=webp,quality=70,height=80,width=120,fit=cover`,
			`/img/${id}/f=webp,q=70,fit=cover,w=120,h=80,dpr=1,metadata=copyright,anim=true,g=auto`,
			`/cdn-cgi/image/height=80,width=120,fit=cover,quality=70,format=webp/${id}`,
		];
		const tags = new Set();
		for (const u of urls) tags.add((await L.req(srv, 'HEAD', u)).headers.get('etag'));
		assert.equal(tags.size, 1, [...tags].join(' '));
		const other = await L.req(srv, 'HEAD', `/img/${id}/w=120,h=80,fit=cover,q=71,f=webp`);
		assert.ok(!tags.has(other.headers.get('etag')));
	});

	test('onerror=redirect sends a failing /cdn-cgi render to the unresized image', { timeout: T }, async () => {
		const s = await start();
		const up = await L.upload(s, path.join(L.INPUTS, 'progressive.jpg'));
		// Damage the stored original so every render fails.
		const sha = up.record.sha256;
		L.blobPut(s.dataDir, sha, L.blobGet(s.dataDir, sha).subarray(0, 200));
		const r = await L.req(s, 'GET', `/cdn-cgi/image/w=50,onerror=redirect/${up.record.id}`);
		assert.equal(r.status, 307, L.show(r));
		assert.equal(r.headers.get('location'), `/img/${up.record.id}/public`);
		const plain = await L.req(s, 'GET', `/cdn-cgi/image/w=50/${up.record.id}`);
		assert.ok(plain.status >= 400, L.show(plain));
		const img = await L.req(s, 'GET', `/img/${up.record.id}/w=50,onerror=redirect`);
		assert.equal(img.status, 400);
		assert.match(L.errMessage(img), /onerror/);
	});
});

describe('format=json', () => {
	test('describes the original and the output instead of pixels', { timeout: T }, async () => {
		const r = await L.req(srv, 'GET', `/img/${wide}/w=100,f=json`);
		assert.equal(r.status, 200, L.show(r));
		assert.match(r.headers.get('content-type'), /application\/json/);
		const j = r.json;
		assert.deepEqual([j.original.width, j.original.height, j.original.format], [400, 200, 'png']);
		assert.equal(j.original.file_size > 0, true);
		assert.deepEqual([j.width, j.height], [100, 50]);
		assert.equal(typeof j.format, 'string');
		assert.equal(j.frames, 1);
		assert.equal(typeof j.alpha, 'boolean');
	});
});

describe('geometry of the operations', () => {
	const cases = [
		['rotate=90', 200, 400],
		['rotate=180', 400, 200],
		['rotate=270,w=100', 100, 200],
		['flip=h', 400, 200],
		['trim=10;20;30;40', 340, 160],
		['trim.top=50', 400, 150],
		['trim.left=10,trim.top=20,trim.width=300,trim.height=100', 300, 100],
		['border.width=10', 420, 220],
		['border=1;2;3;4,border.color=red', 406, 204],
		['w=100,border.width=5', 110, 60],
		['fit=squeeze,w=100,h=100', 100, 100],
		['w=200,h=200,fit=pad,background=rebeccapurple', 200, 200],
		['w=100,blur=10', 100, 50],
		['w=100,sharpen=3', 100, 50],
		['w=100,brightness=1.5,contrast=0.8,gamma=1.2,saturation=0', 100, 50],
		['w=100,q=low,compression=fast', 100, 50],
		['w=100,f=baseline-jpeg', 100, 50],
		['w=100,f=gif', 100, 50],
		['w=8192', 400, 200], // scale-down never enlarges
		['w=5000,dpr=2,fit=contain', 8192, 4096], // capped at 8192 per side
	];
	for (const [opts, w, h] of cases) {
		test(`${opts} -> ${w}x${h}`, { timeout: T }, async () => {
			const d = await dims(srv, `/img/${wide}/${opts}`);
			assert.deepEqual([d.width, d.height], [w, h]);
		});
	}
	test('baseline-jpeg is not progressive, jpeg is', { timeout: T }, async () => {
		const base = (await L.req(srv, 'GET', `/img/${id}/w=100,f=baseline-jpeg`)).body;
		const prog = (await L.req(srv, 'GET', `/img/${id}/w=100,f=jpeg`)).body;
		const hasMarker = (b, m) => { for (let i = 0; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === m) return true; return false; };
		assert.ok(hasMarker(base, 0xc0) && !hasMarker(base, 0xc2));
		assert.ok(hasMarker(prog, 0xc2));
	});
});

describe('every invalid value names its option', () => {
	const bad = {
		width: ['0', '-1', 'abc', '8193', '1.5'], height: ['0', 'x'], fit: ['fill', ''],
		gravity: ['2x2', 'middle', '0.5x'], quality: ['0', '101', 'best'],
		format: ['bmp', 'tiff'], dpr: ['0', '4', 'x'], metadata: ['all'],
		background: ['notacolor', 'rgb(1,2)', '#12345'], anim: ['maybe'],
		blur: ['-1', '251'], sharpen: ['-1', '11'], brightness: ['-1', 'x'],
		contrast: ['-1', '11'], gamma: ['0', '11'], saturation: ['-1', '11'],
		rotate: ['45', '360', '-90'], flip: ['x', 'hh'], trim: ['1;2;3', 'a;b;c;d', '1;2;3;4;5'],
		'trim.border.tolerance': ['300'], 'trim.border.keep': ['-1'],
		'border.width': ['-1', '1001'], 'border.color': ['nope'],
		compression: ['slow'], zoom: ['2', '-0.1'],
	};
	for (const [name, values] of Object.entries(bad)) {
		test(name, { timeout: T }, async () => {
			for (const v of values) {
				const r = await L.req(srv, 'GET', `/img/${id}/${name}=${encodeURIComponent(v)}`);
				assert.equal(r.status, 400, `${name}=${v}: ${L.show(r)}`);
				assert.equal(L.errCode(r), 'invalid_option');
				assert.ok(L.errMessage(r).includes(`"${name}"`), `${name}=${v}: ${L.errMessage(r)}`);
				assert.match(L.errMessage(r), /: expected \S/, `${name}=${v}: the message lists what is accepted`);
			}
		});
	}
	test('unknown options', { timeout: T }, async () => {
		const r = await L.req(srv, 'GET', `/img/${id}/w=10,crop=yes`);
		assert.equal(r.status, 400);
		assert.match(L.errMessage(r), /"crop"/);
		const t = await L.req(srv, 'GET', `/img/${id}/widht=300`);
		assert.equal(t.status, 400);
		assert.equal(L.errMessage(t), 'unknown option "widht"; did you mean "width"?');
		const w = await L.req(srv, 'GET', `/img/${id}/w=0`);
		assert.equal(L.errMessage(w), 'invalid value "0" for option "width": expected an integer from 1 to 8192, or auto');
	});
});

describe('managed variants', () => {
	test('create, list, use, patch, delete; effective at once', { timeout: T }, async () => {
		const s = await start();
		const up = await L.upload(s, L.makePng(400, 200, 3), { filename: 'x.png' });
		const img = up.record.id;
		let r = await L.api(s, 'POST', '/v1/variants', { id: 'hero', options: { width: 100, fit: 'scale-down', metadata: 'none' } });
		assert.equal(r.status, 200, L.show(r));
		assert.deepEqual(r.json.result.variant, { id: 'hero', options: { width: 100, fit: 'scale-down', metadata: 'none' }, neverRequireSignedURLs: false });
		assert.equal((await dims(s, `/img/${img}/hero`)).width, 100);
		r = await L.api(s, 'GET', '/v1/variants');
		assert.ok(r.json.result.variants.hero);
		assert.ok(r.json.result.variants.public, 'configured variants are listed too');
		r = await L.api(s, 'GET', `/v1/images/${img}`);
		assert.ok(r.json.result.variants.some((u) => u.endsWith(`/img/${img}/hero`)));
		r = await L.api(s, 'PATCH', '/v1/variants/hero', { options: { width: 50 } });
		assert.equal(r.status, 200, L.show(r));
		assert.equal((await dims(s, `/img/${img}/hero`)).width, 50);
		r = await L.api(s, 'GET', '/v1/variants/hero');
		assert.deepEqual(r.json.result.variant.options, { width: 50 });
		r = await L.api(s, 'POST', '/v1/variants', { id: 'hero', options: { width: 1 } });
		assert.equal(r.status, 409);
		r = await L.api(s, 'DELETE', '/v1/variants/hero');
		assert.equal(r.status, 200);
		r = await L.req(s, 'GET', `/img/${img}/hero`);
		assert.equal(r.status, 404);
		assert.equal(L.errCode(r), 'variant_not_found');
		r = await L.api(s, 'DELETE', '/v1/variants/hero');
		assert.equal(r.status, 404);
		for (const body of [{ id: 'bad name', options: { width: 1 } }, { id: 'x', options: { width: 0 } },
			{ id: 'y', options: { nope: 1 } }, { id: 'z' }, { id: 'w=1', options: { width: 1 } }]) {
			r = await L.api(s, 'POST', '/v1/variants', body);
			assert.equal(r.status, 400, `${JSON.stringify(body)}: ${L.show(r)}`);
		}
		r = await L.req(s, 'GET', '/v1/variants');
		assert.equal(r.status, 401);
	});

	test('neverRequireSignedURLs serves a signed-only image without a signature', { timeout: T }, async () => {
		const s = await start();
		const up = await L.upload(s, path.join(L.INPUTS, 'rgb.jpg'), { requireSignedURLs: true });
		await L.api(s, 'POST', '/v1/variants', { id: 'avatar', options: { width: 64 }, neverRequireSignedURLs: true });
		await L.api(s, 'POST', '/v1/variants', { id: 'big', options: { width: 300 } });
		assert.equal((await dims(s, `/img/${up.record.id}/avatar`)).width, 64);
		const r = await L.req(s, 'GET', `/img/${up.record.id}/big`);
		assert.equal(r.status, 403);
		assert.equal(L.errCode(r), 'signature_required');
	});

	test('at most 100 variants', { timeout: 4 * T }, async () => {
		const s = await start();
		for (let i = 0; i < 100; i++) {
			const r = await L.api(s, 'POST', '/v1/variants', { id: `v${i}`, options: { width: i + 1 } });
			assert.equal(r.status, 200, L.show(r));
		}
		const r = await L.api(s, 'POST', '/v1/variants', { id: 'v100', options: { width: 5 } });
		assert.equal(r.status, 409, L.show(r));
		assert.equal(L.errCode(r), 'too_many_variants');
	});
});

describe('flexible variants switch and allow-list', () => {
	test('named variants only', { timeout: T }, async () => {
		const s = await start(['--flexible-variants', 'off']);
		const up = await L.upload(s, path.join(L.INPUTS, 'rgb.jpg'));
		let r = await L.req(s, 'GET', `/img/${up.record.id}/w=100`);
		assert.equal(r.status, 403);
		assert.equal(L.errCode(r), 'flexible_variants_disabled');
		r = await L.req(s, 'GET', `/cdn-cgi/image/w=100/${up.record.id}`);
		assert.equal(r.status, 403);
		r = await L.req(s, 'GET', `/img/${up.record.id}/thumbnail`);
		assert.equal(r.status, 200);
	});

	test('an allow-list of options', { timeout: T }, async () => {
		const s = await start(['--flexible-options', 'width,h,format']);
		const up = await L.upload(s, path.join(L.INPUTS, 'rgb.jpg'));
		let r = await L.req(s, 'GET', `/img/${up.record.id}/w=100,height=50,f=png`);
		assert.equal(r.status, 200, L.show(r));
		r = await L.req(s, 'GET', `/img/${up.record.id}/w=100,q=50`);
		assert.equal(r.status, 400);
		assert.match(L.errMessage(r), /"quality"/);
		// Named variants are not limited by the list.
		r = await L.req(s, 'GET', `/img/${up.record.id}/thumbnail`);
		assert.equal(r.status, 200);
	});
});
