// The images API under /v1: upload, records, metadata, deletion, blobs,
// authentication, listing and pagination, errors and limits.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let srv;
before(async () => {
	srv = await L.startServer();
});
after(async () => {
	await srv?.kill();
});

function checkRecord(r, { bytes, filename }) {
	assert.equal(typeof r.id, 'string');
	assert.equal(r.filename, filename);
	assert.equal(typeof r.uploaded, 'string');
	const t = Date.parse(r.uploaded);
	assert.ok(Number.isFinite(t), `uploaded ${r.uploaded} is not a date`);
	assert.ok(Math.abs(Date.now() - t) < 120000, `uploaded ${r.uploaded} is not now`);
	assert.match(r.uploaded, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
	assert.equal(typeof r.requireSignedURLs, 'boolean');
	assert.equal(typeof r.meta, 'object');
	assert.ok(r.meta !== null && !Array.isArray(r.meta));
	assert.ok(Array.isArray(r.variants), 'variants');
	for (const v of ['public', 'thumbnail']) {
		assert.ok(r.variants.some((u) => u.endsWith(`/img/${r.id}/${v}`) && /^https?:\/\//.test(u)),
			`variants lack an absolute URL for ${v}: ${JSON.stringify(r.variants)}`);
	}
	assert.equal(r.width, 320);
	assert.equal(r.height, 320);
	assert.equal(r.format, 'jpeg');
	assert.equal(r.bytes, bytes.length);
	assert.equal(r.sha256, L.sha256(bytes));
	assert.equal(r.frames, 1);
	assert.equal(r.alpha, false);
	assert.equal(r.status, 'approved');
}

describe('upload and records', () => {
	test('multipart upload: 201, Location, the full record', { timeout: T }, async () => {
		const res = await L.upload(srv, RGB, { metadata: { owner: 'alice', n: 1 } });
		assert.equal(res.status, 201, L.show(res));
		assert.equal(res.json.success, true);
		assert.deepEqual(res.json.errors, []);
		assert.ok(Array.isArray(res.json.messages));
		const r = res.record;
		checkRecord(r, { bytes: res.sent, filename: 'rgb.jpg' });
		assert.match(r.id, UUIDV7, 'generated ids are UUIDv7');
		assert.deepEqual(r.meta, { owner: 'alice', n: 1 });
		assert.equal(r.requireSignedURLs, false);
		const loc = res.headers.get('location');
		assert.ok(loc && loc.endsWith(`/v1/images/${r.id}`), `Location: ${loc}`);
		const g = await L.api(srv, 'GET', `/v1/images/${r.id}`);
		assert.equal(g.status, 200, L.show(g));
		assert.deepEqual(g.json.result, r);
		assert.match(g.headers.get('content-type') ?? '', /^application\/json/);
	});

	test('raw upload with query options', { timeout: T }, async () => {
		const res = await L.upload(srv, RGB, {
			raw: true, contentType: 'image/png', id: 'raw-custom.1', filename: 'from-query.jpg',
			requireSignedURLs: true, metadata: { k: 'v' },
		});
		assert.equal(res.status, 201, L.show(res));
		const r = res.record;
		checkRecord(r, { bytes: res.sent, filename: 'from-query.jpg' });
		assert.equal(r.id, 'raw-custom.1');
		assert.equal(r.requireSignedURLs, true);
		assert.deepEqual(r.meta, { k: 'v' });
		assert.ok(res.headers.get('location')?.endsWith('/v1/images/raw-custom.1'));
	});

	test('raw upload without options gets a UUIDv7 and empty meta', { timeout: T }, async () => {
		const res = await L.upload(srv, L.input('rgb.jpg'), { raw: true });
		assert.equal(res.status, 201, L.show(res));
		assert.match(res.record.id, UUIDV7);
		assert.deepEqual(res.record.meta, {});
		assert.equal(res.record.requireSignedURLs, false);
	});

	test('generated ids are time-ordered', { timeout: T }, async () => {
		const a = (await L.upload(srv, L.makePng(8, 8, 'ord-a'))).record.id;
		const b = (await L.upload(srv, L.makePng(8, 8, 'ord-b'))).record.id;
		assert.ok(a < b, `${a} !< ${b}`);
	});

	test('custom id; the same id again -> 409 already_exists', { timeout: T }, async () => {
		const id = 'my_Image-01.x~y';
		const a = await L.upload(srv, RGB, { id });
		assert.equal(a.status, 201, L.show(a));
		assert.equal(a.record.id, id);
		const b = await L.upload(srv, L.makePng(10, 10, 'dup'), { id });
		assert.equal(b.status, 409, L.show(b));
		assert.equal(L.errCode(b), 'already_exists', L.show(b));
		const c = await L.upload(srv, L.makePng(10, 10, 'dup'), { id, raw: true });
		assert.equal(c.status, 409, L.show(c));
		const g = await L.api(srv, 'GET', `/v1/images/${id}`);
		assert.equal(g.json.result.sha256, a.record.sha256, 'the first upload stays');
		const long = 'a'.repeat(128);
		const d = await L.upload(srv, RGB, { id: long });
		assert.equal(d.status, 201, `a 128-character id is valid: ${L.show(d)}`);
	});

	for (const bad of ['has space', 'slash/inside', 'a'.repeat(129), 'ünïcode', 'semi;colon', 'q?x']) {
		test(`invalid id ${JSON.stringify(bad.length > 20 ? bad.slice(0, 8) + '…(' + bad.length + ')' : bad)} -> 400 invalid_id`,
			{ timeout: T }, async () => {
				for (const raw of [false, true]) {
					const res = await L.upload(srv, RGB, { id: bad, raw });
					assert.equal(res.status, 400, L.show(res));
					assert.equal(L.errCode(res), 'invalid_id', L.show(res));
				}
			});
	}

	test('empty id -> 400 invalid_id', { timeout: T }, async () => {
		const res = await L.upload(srv, RGB, { id: '' });
		assert.equal(res.status, 400, L.show(res));
		assert.equal(L.errCode(res), 'invalid_id', L.show(res));
	});

	for (const [name, meta] of [['an array', '[1,2]'], ['a string', '"x"'], ['a number', '42'], ['null', 'null'],
		['over 1024 bytes', JSON.stringify({ k: 'x'.repeat(1100) })]]) {
		test(`metadata ${name} -> 400 invalid_metadata`, { timeout: T }, async () => {
			for (const raw of [false, true]) {
				const before = (await L.listAll(srv, 1000)).length;
				const res = await L.upload(srv, RGB, { metadata: meta, raw });
				assert.equal(res.status, 400, L.show(res));
				assert.equal(L.errCode(res), 'invalid_metadata', L.show(res));
				assert.equal((await L.listAll(srv, 1000)).length, before, 'nothing stored');
			}
		});
	}

	test('metadata of exactly ~1000 bytes is fine', { timeout: T }, async () => {
		const meta = { k: 'x'.repeat(990) };
		assert.ok(JSON.stringify(meta).length <= 1024);
		const res = await L.upload(srv, RGB, { metadata: meta });
		assert.equal(res.status, 201, L.show(res));
		assert.deepEqual(res.record.meta, meta);
	});

	test('requireSignedURLs=bogus -> 400', { timeout: T }, async () => {
		const res = await L.upload(srv, RGB, { requireSignedURLs: 'maybe' });
		assert.equal(res.status, 400, L.show(res));
	});

	test('multipart without a file part -> 400 invalid_request', { timeout: T }, async () => {
		const fd = new FormData();
		fd.append('id', 'nofile');
		const res = await L.req(srv, 'POST', '/v1/images', { auth: true, body: fd });
		assert.equal(res.status, 400, L.show(res));
		assert.ok(['invalid_request', 'empty_body'].includes(L.errCode(res)), L.show(res));
	});

	test('malformed multipart -> 400 invalid_request', { timeout: T }, async () => {
		const res = await L.req(srv, 'POST', '/v1/images', {
			auth: true,
			headers: { 'Content-Type': 'multipart/form-data; boundary=XyZ' },
			body: '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nnot terminated',
		});
		assert.equal(res.status, 400, L.show(res));
		assert.equal(L.errCode(res), 'invalid_request', L.show(res));
		const h = await L.req(srv, 'GET', '/healthz');
		assert.equal(h.status, 200);
	});
});

describe('PATCH, DELETE, blobs, dedup', () => {
	test('PATCH metadata, requireSignedURLs, both', { timeout: T }, async () => {
		const up = await L.upload(srv, RGB, { metadata: { a: 1 } });
		const id = up.record.id;
		let p = await L.api(srv, 'PATCH', `/v1/images/${id}`, { metadata: { b: 2 } });
		assert.equal(p.status, 200, L.show(p));
		assert.deepEqual(p.json.result.meta, { b: 2 });
		assert.equal(p.json.result.requireSignedURLs, false);
		p = await L.api(srv, 'PATCH', `/v1/images/${id}`, { requireSignedURLs: true });
		assert.equal(p.status, 200, L.show(p));
		assert.equal(p.json.result.requireSignedURLs, true);
		assert.deepEqual(p.json.result.meta, { b: 2 }, 'PATCH of one field keeps the other');
		p = await L.api(srv, 'PATCH', `/v1/images/${id}`, { metadata: { c: 'x' }, requireSignedURLs: false });
		assert.equal(p.status, 200, L.show(p));
		assert.deepEqual(p.json.result.meta, { c: 'x' });
		assert.equal(p.json.result.requireSignedURLs, false);
		const g = await L.api(srv, 'GET', `/v1/images/${id}`);
		assert.deepEqual(g.json.result, p.json.result, 'GET shows the patched record');
		for (const k of ['id', 'sha256', 'uploaded', 'width', 'bytes', 'filename']) {
			assert.deepEqual(g.json.result[k], up.record[k], `PATCH changed ${k}`);
		}
	});

	test('PATCH errors: bad JSON, bad metadata, unknown id', { timeout: T }, async () => {
		const id = (await L.upload(srv, RGB)).record.id;
		let p = await L.api(srv, 'PATCH', `/v1/images/${id}`, '{"metadata": ');
		assert.equal(p.status, 400, L.show(p));
		assert.equal(L.errCode(p), 'invalid_request', L.show(p));
		p = await L.api(srv, 'PATCH', `/v1/images/${id}`, { metadata: [1] });
		assert.equal(p.status, 400, L.show(p));
		assert.equal(L.errCode(p), 'invalid_metadata', L.show(p));
		p = await L.api(srv, 'PATCH', `/v1/images/${id}`, { metadata: { k: 'y'.repeat(1100) } });
		assert.equal(p.status, 400, L.show(p));
		assert.equal(L.errCode(p), 'invalid_metadata', L.show(p));
		p = await L.api(srv, 'PATCH', '/v1/images/no-such-image', { metadata: {} });
		assert.equal(p.status, 404, L.show(p));
		assert.equal(L.errCode(p), 'not_found', L.show(p));
	});

	test('GET blob is byte-identical with its Content-Type', { timeout: T }, async () => {
		for (const f of ['rgb.jpg', 'gray-alpha.png', 'lossy.webp', 'animated-12-frames.gif']) {
			const up = await L.upload(srv, path.join(L.INPUTS, f));
			assert.equal(up.status, 201, L.show(up));
			const b = await L.api(srv, 'GET', `/v1/images/${up.record.id}/blob`);
			assert.equal(b.status, 200, L.show(b));
			assert.ok(b.body.equals(up.sent), `${f}: blob differs`);
			const ct = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif' }[f.split('.').pop()];
			assert.equal(b.headers.get('content-type'), ct, f);
			assert.equal(Number(b.headers.get('content-length')), up.sent.length);
		}
	});

	test('DELETE, then 404 not_found on GET, blob, delivery, PATCH, DELETE', { timeout: T }, async () => {
		const id = (await L.upload(srv, L.makePng(30, 20, 'del'))).record.id;
		const pub = await L.req(srv, 'GET', `/img/${id}/public`);
		assert.equal(pub.status, 200, L.show(pub));
		const d = await L.api(srv, 'DELETE', `/v1/images/${id}`);
		assert.equal(d.status, 200, L.show(d));
		assert.equal(d.json.success, true);
		assert.deepEqual(d.json.result, {});
		for (const [m, p] of [['GET', `/v1/images/${id}`], ['GET', `/v1/images/${id}/blob`], ['DELETE', `/v1/images/${id}`],
			['PATCH', `/v1/images/${id}`]]) {
			const r = await L.api(srv, m, p, m === 'PATCH' ? { metadata: {} } : undefined);
			assert.equal(r.status, 404, L.show(r));
			assert.equal(L.errCode(r), 'not_found', L.show(r));
		}
		for (const v of ['public', 'w=10']) {
			const r = await L.req(srv, 'GET', `/img/${id}/${v}`);
			assert.equal(r.status, 404, L.show(r));
			// anonymous: the one answer for every image it may not see
			assert.equal(L.errCode(r), 'not_available', L.show(r));
		}
		const list = await L.listAll(srv, 1000);
		assert.ok(!list.some((r) => r.id === id), 'deleted image still listed');
	});

	test('identical bytes twice: two records, one sha256; deleting one keeps the other', { timeout: T }, async () => {
		const bytes = L.makePng(40, 30, 'twins');
		const a = await L.upload(srv, bytes, { filename: 'a.png' });
		const b = await L.upload(srv, bytes, { filename: 'b.png' });
		assert.equal(a.status, 201);
		assert.equal(b.status, 201);
		assert.notEqual(a.record.id, b.record.id);
		assert.equal(a.record.sha256, b.record.sha256);
		assert.equal(a.record.sha256, L.sha256(bytes));
		const blobs = L.walk(path.join(srv.dataDir, 'blobs')).filter((f) => f.endsWith(a.record.sha256));
		assert.equal(blobs.length, L.S3 ? 0 : 1, `identical bytes are stored once: ${blobs}`);
		assert.equal(L.blobNames(srv.dataDir).filter((n) => n === a.record.sha256).length, 1);
		assert.equal((await L.api(srv, 'DELETE', `/v1/images/${a.record.id}`)).status, 200);
		const blob = await L.api(srv, 'GET', `/v1/images/${b.record.id}/blob`);
		assert.equal(blob.status, 200, L.show(blob));
		assert.ok(blob.body.equals(bytes));
		const del = await L.req(srv, 'GET', `/img/${b.record.id}/w=20,f=png`);
		assert.equal(del.status, 200, L.show(del));
		assert.ok(L.blobNames(srv.dataDir).includes(a.record.sha256), 'one reference left: the original stays');
		// deleting the last reference removes the blob
		assert.equal((await L.api(srv, 'DELETE', `/v1/images/${b.record.id}`)).status, 200);
		const gone = await L.api(srv, 'GET', `/v1/images/${b.record.id}/blob`);
		assert.equal(gone.status, 404);
		assert.ok(!L.blobNames(srv.dataDir).includes(a.record.sha256), 'no reference left: the original goes');
	});
});

describe('authentication', () => {
	let id;
	before(async () => {
		id = (await L.upload(srv, RGB, { id: 'auth-target' })).record.id;
	});
	const routes = () => [
		['POST', '/v1/images'],
		['GET', '/v1/images'],
		['GET', '/v1/images?per_page=5'],
		['GET', `/v1/images/${id}`],
		['PATCH', `/v1/images/${id}`],
		['DELETE', `/v1/images/${id}`],
		['GET', `/v1/images/${id}/blob`],
		['GET', '/v1/images/does-not-exist'],
	];
	const bad = () => ({
		'no header': {},
		'wrong token': { Authorization: 'Bearer ' + 'f'.repeat(64) },
		'token with a suffix': { Authorization: `Bearer ${srv.adminToken}x` },
		'token prefix': { Authorization: `Bearer ${srv.adminToken.slice(0, -1)}` },
		'empty bearer': { Authorization: 'Bearer ' },
		'wrong scheme': { Authorization: `Basic ${Buffer.from('admin:' + srv.adminToken).toString('base64')}` },
		'token without scheme': { Authorization: srv.adminToken },
		'other scheme': { Authorization: `Token ${srv.adminToken}` },
	});
	test('missing or wrong credentials -> 401 unauthorized on every /v1 route', { timeout: T }, async () => {
		assert.ok(srv.adminToken, 'admin_token read from secrets.json');
		for (const [m, p] of routes()) {
			for (const [what, headers] of Object.entries(bad())) {
				const opts = { headers: { ...headers } };
				if (m === 'POST') {
					opts.headers['Content-Type'] = 'application/octet-stream';
					opts.body = L.input('rgb.jpg');
				} else if (m === 'PATCH') {
					opts.headers['Content-Type'] = 'application/json';
					opts.body = '{"metadata":{"x":1}}';
				}
				const r = await L.req(srv, m, p, opts);
				assert.equal(r.status, 401, `${what}: ${L.show(r)}`);
				assert.equal(L.errCode(r), 'unauthorized', `${what}: ${L.show(r)}`);
				assert.equal(r.json.success, false);
			}
		}
		const g = await L.api(srv, 'GET', `/v1/images/${id}`);
		assert.equal(g.status, 200, 'still there');
		assert.deepEqual(g.json.result.meta, {}, 'not patched');
	});
	test('the right token works', { timeout: T }, async () => {
		const r = await L.req(srv, 'GET', `/v1/images/${id}`, { headers: { Authorization: `Bearer ${srv.adminToken}` } });
		assert.equal(r.status, 200);
	});
	test('delivery and health need no token', { timeout: T }, async () => {
		for (const p of [`/img/${id}/public`, '/healthz', '/readyz', '/metrics']) {
			const r = await L.req(srv, 'GET', p);
			assert.equal(r.status, 200, L.show(r));
		}
	});
});

describe('listing', () => {
	let ls;
	const uploaded = [];
	before(async () => {
		ls = await L.startServer();
		for (let i = 0; i < 25; i++) {
			const r = await L.upload(ls, L.makePng(16, 16, `list-${i}`), { filename: `l${i}.png` });
			assert.equal(r.status, 201, L.show(r));
			uploaded.push(r.record.id);
		}
	});
	after(async () => {
		await ls?.kill();
	});

	test('per_page=7 pages: all 25, newest first, no duplicates', { timeout: T }, async () => {
		const pages = [];
		const all = await L.listAll(ls, 7, pages);
		assert.deepEqual(pages.map((p) => p.length), [7, 7, 7, 4]);
		assert.deepEqual(all.map((r) => r.id), [...uploaded].reverse());
		const first = await L.api(ls, 'GET', '/v1/images?per_page=7');
		assert.equal(typeof first.json.result.continuation_token, 'string');
		const one = await L.api(ls, 'GET', '/v1/images?per_page=1000');
		assert.equal(one.json.result.images.length, 25);
		assert.equal(one.json.result.continuation_token, null, 'last page: continuation_token null');
		const dflt = await L.api(ls, 'GET', '/v1/images');
		assert.equal(dflt.json.result.images.length, 25);
		assert.equal(dflt.json.result.images[0].id, uploaded[24]);
		assert.ok(dflt.json.result.images[0].sha256, 'list entries are full records');
	});

	test('per_page out of range -> 400', { timeout: T }, async () => {
		for (const v of ['0', '1001', 'abc', '-1']) {
			const r = await L.api(ls, 'GET', `/v1/images?per_page=${v}`);
			assert.equal(r.status, 400, L.show(r));
			assert.ok(['invalid_request', 'invalid_option'].includes(L.errCode(r)), L.show(r));
		}
	});

	test('garbage continuation token -> 400 invalid_continuation_token', { timeout: T }, async () => {
		for (const t of ['garbage!!', 'AAAA', '%FF%FE', 'x'.repeat(300)]) {
			const r = await L.api(ls, 'GET', `/v1/images?per_page=5&continuation_token=${t}`);
			assert.equal(r.status, 400, L.show(r));
			assert.equal(L.errCode(r), 'invalid_continuation_token', L.show(r));
		}
	});

	test('pagination under concurrent uploads: every image that existed, once, in order', { timeout: 4 * T }, async () => {
		const existing = (await L.listAll(ls, 1000)).map((r) => r.id);
		const existingSet = new Set(existing);
		let done = 0;
		let stopUploads = false;
		const uploader = (async () => {
			for (let i = 0; i < 20 && !stopUploads; i++) {
				const r = await L.upload(ls, L.makePng(16, 16, `during-${i}`));
				assert.equal(r.status, 201, L.show(r));
				done++;
			}
		})();
		const seen = [];
		let token = null;
		try {
			for (let n = 0; n < 1000; n++) {
				const q = new URLSearchParams({ per_page: '7' });
				if (token) q.set('continuation_token', token);
				const r = await L.api(ls, 'GET', '/v1/images?' + q);
				assert.equal(r.status, 200, L.show(r));
				seen.push(...r.json.result.images.map((x) => x.id));
				token = r.json.result.continuation_token;
				if (!token) break;
				// let at least one upload land between two pages
				const target = done + 1;
				const t0 = Date.now();
				while (done < target && done < 20 && Date.now() - t0 < 10000) await L.sleep(5);
			}
		} finally {
			stopUploads = true;
			await uploader;
		}
		assert.ok(done >= 3, `only ${done} uploads happened while paging`);
		assert.equal(new Set(seen).size, seen.length, `duplicates in the pages: ${seen.length - new Set(seen).size}`);
		assert.deepEqual(seen.filter((id) => existingSet.has(id)), existing,
			'the images that existed when paging started, each once, newest first');
		const after = (await L.listAll(ls, 1000)).map((r) => r.id);
		assert.equal(after.length, existing.length + done);
		assert.deepEqual(after.slice(done), existing, 'new uploads come first');
	});
});

describe('errors, limits, headers', () => {
	test('X-Request-Id on every response, errors included', { timeout: T }, async () => {
		const id = (await L.upload(srv, RGB)).record.id;
		const rs = [
			await L.req(srv, 'GET', '/healthz'),
			await L.req(srv, 'GET', '/readyz'),
			await L.req(srv, 'GET', '/metrics'),
			await L.api(srv, 'GET', `/v1/images/${id}`),
			await L.api(srv, 'GET', '/v1/images/nope'),
			await L.req(srv, 'GET', `/v1/images/${id}`),
			await L.req(srv, 'GET', `/img/${id}/public`),
			await L.req(srv, 'HEAD', `/img/${id}/public`),
			await L.req(srv, 'GET', `/img/${id}/w=abc`),
			await L.req(srv, 'GET', '/img/nope/public'),
			await L.req(srv, 'GET', '/no/such/route'),
			await L.req(srv, 'PUT', '/healthz'),
			await L.upload(srv, Buffer.from('hello'), { raw: true }),
			await L.upload(srv, L.makePng(9, 9, 'rid')),
		];
		const seen = new Set();
		for (const r of rs) {
			const v = r.headers.get('x-request-id');
			assert.ok(v && v.length >= 8, `no X-Request-Id: ${L.show(r)}`);
			seen.add(v);
		}
		assert.equal(seen.size, rs.length, 'request ids are unique');
	});

	test('unknown routes -> 404 not_found (JSON envelope)', { timeout: T }, async () => {
		for (const p of ['/', '/nope', '/v1/nope', '/v1/images/x/y/z', '/img', '/img/', '/v2/images']) {
			const r = await L.api(srv, 'GET', p);
			assert.equal(r.status, 404, L.show(r));
			assert.equal(L.errCode(r), 'not_found', L.show(r));
			assert.equal(r.json.success, false);
		}
	});

	test('wrong methods -> 405 method_not_allowed', { timeout: T }, async () => {
		const id = (await L.upload(srv, RGB)).record.id;
		for (const [m, p] of [['PUT', '/v1/images'], ['DELETE', '/v1/images'], ['PATCH', '/v1/images'],
			['POST', `/v1/images/${id}`], ['PUT', `/v1/images/${id}`], ['POST', `/v1/images/${id}/blob`],
			['DELETE', `/v1/images/${id}/blob`], ['POST', `/img/${id}/public`], ['DELETE', `/img/${id}/public`],
			['PUT', `/img/${id}/w=10`], ['POST', '/healthz'], ['DELETE', '/metrics']]) {
			const r = await L.api(srv, m, p);
			assert.equal(r.status, 405, L.show(r));
			assert.equal(L.errCode(r), 'method_not_allowed', L.show(r));
		}
		const g = await L.api(srv, 'GET', `/v1/images/${id}`);
		assert.equal(g.status, 200, 'the image survived');
	});

	test('health endpoints', { timeout: T }, async () => {
		const h = await L.req(srv, 'GET', '/healthz');
		assert.equal(h.status, 200);
		assert.deepEqual(h.json, { status: 'ok' });
		const r = await L.req(srv, 'GET', '/readyz');
		assert.equal(r.status, 200, L.show(r));
		const m = await L.req(srv, 'GET', '/metrics');
		assert.equal(m.status, 200);
		assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
		assert.match(m.text, /^# (HELP|TYPE) /m, 'Prometheus text format');
	});
});

describe('upload size limit', () => {
	let small;
	const LIMIT = 100000;
	before(async () => {
		small = await L.startServer({ args: ['--max-upload-bytes', String(LIMIT)] });
	});
	after(async () => {
		await small?.kill();
	});
	const big = L.makePng(8, 8, 'x'); // replaced below by 2 MB of data
	const twoMB = Buffer.concat([big, Buffer.alloc(2 * 1024 * 1024, 7)]);

	test('Expect: 100-continue over the limit -> 413 before the body is sent', { timeout: T }, async () => {
		const r = await L.rawRequest(small, 'POST', '/v1/images', {
			headers: { ...small.auth(), 'Content-Type': 'application/octet-stream' },
			body: twoMB, expectContinue: true,
		});
		assert.equal(r.error && !r.status ? r.error : null, null, `no answer: ${r.error}`);
		assert.equal(r.status, 413, JSON.stringify(r.json ?? r.body.toString()));
		assert.equal(r.continued, false, 'the server asked for the body (100 Continue) instead of refusing it');
		assert.equal(r.json?.errors?.[0]?.code, 'payload_too_large');
		assert.match(r.json.errors[0].message, new RegExp(`over the limit of ${LIMIT} bytes .*--max-upload-bytes`),
			'the 413 names the limit and the setting that raises it');
		assert.ok(r.headers['x-request-id']);
		assert.equal(r.sentBytes, 0, 'no body byte was sent');
	});

	test('raw body of 2 MB -> 413 payload_too_large, quickly', { timeout: T }, async () => {
		const r = await L.rawRequest(small, 'POST', '/v1/images', {
			headers: { ...small.auth(), 'Content-Type': 'application/octet-stream' }, body: twoMB,
		});
		assert.equal(r.status, 413, `answer: ${r.status} ${r.error ?? ''} ${r.body.toString().slice(0, 300)}`);
		assert.equal(r.json?.errors?.[0]?.code, 'payload_too_large');
		assert.match(r.json.errors[0].message, new RegExp(`limit of ${LIMIT} bytes \\(max_upload_bytes.*--max-upload-bytes`));
	});

	test('multipart of 2 MB -> 413 payload_too_large', { timeout: T }, async () => {
		const boundary = 'b0undary';
		const body = Buffer.concat([
			Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n` +
				'Content-Type: image/png\r\n\r\n'),
			twoMB,
			Buffer.from(`\r\n--${boundary}--\r\n`),
		]);
		const r = await L.rawRequest(small, 'POST', '/v1/images', {
			headers: { ...small.auth(), 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body,
		});
		assert.equal(r.status, 413, `answer: ${r.status} ${r.error ?? ''}`);
		assert.equal(r.json?.errors?.[0]?.code, 'payload_too_large');
	});

	test('chunked body over the limit -> 413', { timeout: T }, async () => {
		const r = await L.rawRequest(small, 'POST', '/v1/images', {
			headers: { ...small.auth(), 'Content-Type': 'application/octet-stream' }, body: twoMB, chunked: true,
		});
		assert.equal(r.status, 413, `answer: ${r.status} ${r.error ?? ''}`);
		assert.equal(r.json?.errors?.[0]?.code, 'payload_too_large');
	});

	test('the limited server stays up and takes uploads under the limit', { timeout: T }, async () => {
		const h = await L.req(small, 'GET', '/healthz');
		assert.equal(h.status, 200);
		const up = await L.upload(small, RGB);
		assert.equal(up.status, 201, L.show(up));
		const list = await L.listAll(small);
		assert.equal(list.length, 1, 'nothing of the refused uploads was stored');
		const tmp = L.walk(path.join(small.dataDir, 'tmp'));
		assert.deepEqual(tmp, [], 'no temp files left behind');
	});
});
