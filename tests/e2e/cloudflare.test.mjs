// Cloudflare Images' own paths over plain HTTP: the /accounts/{account_id}
// path family, the account check, v1 (page) and v2 (continuation token)
// listing while uploads happen, stats, the signing-keys API and its
// durability, and the /{account_hash}/{id}/{variant} delivery form with
// Cloudflare's signed-URL test vector as a real request.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
// Cloudflare's documented signed-URL example: this account hash, image id,
// variant, key and expiry give this signature.
const VECTOR = {
	hash: 'cheeW4oKsx5ljh8e8BoL2A',
	id: 'bc27a117-9509-446b-8c69-c81bfeac0a01',
	variant: 'mobile',
	key: 'example-signing-key',
	exp: 1631289275,
	sig: '4b715c36545beca2c56e6eb22bcaff6491e66eaeb526747311d6e19962217666',
};
const ARGS = ['--moderation', 'off', '--account-id', ACCOUNT, '--account-hash', VECTOR.hash];
const A = `/accounts/${ACCOUNT}/images`;

async function cfUpload(srv, bytes, fields = {}) {
	const fd = new FormData();
	fd.append('file', new Blob([bytes]), fields.filename ?? 'x.png');
	for (const [k, v] of Object.entries(fields)) if (k !== 'filename') fd.append(k, String(v));
	const r = await L.req(srv, 'POST', `${A}/v1`, { auth: true, body: fd });
	return r;
}

describe('the /accounts/{account_id}/images paths', () => {
	let srv;
	before(async () => {
		srv = await L.startServer({ args: ARGS });
	});
	after(async () => {
		await srv?.kill();
	});

	test('upload answers 200 with the record; get, patch, blob, delete', { timeout: T }, async () => {
		const png = L.makePng(40, 30, 'cf-crud');
		const up = await cfUpload(srv, png, { id: 'cf-one', metadata: '{"owner":"alice"}', requireSignedURLs: 'true' });
		assert.equal(up.status, 200, L.show(up));
		assert.equal(up.json.success, true);
		assert.deepEqual(up.json.errors, []);
		const rec = up.json.result;
		assert.equal(rec.id, 'cf-one');
		assert.equal(rec.requireSignedURLs, true);
		assert.deepEqual(rec.meta, { owner: 'alice' });
		assert.match(rec.uploaded, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
		assert.ok(Array.isArray(rec.variants) && rec.variants.length >= 1);

		const g = await L.api(srv, 'GET', `${A}/v1/cf-one`);
		assert.equal(g.status, 200, L.show(g));
		assert.equal(g.json.result.id, 'cf-one');
		const p = await L.api(srv, 'PATCH', `${A}/v1/cf-one`, { metadata: { owner: 'bob' }, requireSignedURLs: false });
		assert.equal(p.status, 200, L.show(p));
		assert.deepEqual(p.json.result.meta, { owner: 'bob' });
		assert.equal(p.json.result.requireSignedURLs, false);
		const b = await L.api(srv, 'GET', `${A}/v1/cf-one/blob`);
		assert.equal(b.status, 200);
		assert.ok(b.body.equals(png), 'blob is the original bytes');
		const d = await L.api(srv, 'DELETE', `${A}/v1/cf-one`);
		assert.equal(d.status, 200, L.show(d));
		assert.deepEqual(d.json.result, {});
		const g2 = await L.api(srv, 'GET', `${A}/v1/cf-one`);
		assert.equal(g2.status, 404);
		assert.equal(L.errCode(g2), 'not_found');
	});

	test('string booleans and the JSON-string metadata field', { timeout: T }, async () => {
		for (const [v, want] of [['true', true], ['false', false], ['1', true], ['0', false]]) {
			const r = await cfUpload(srv, L.makePng(8, 8, `bool-${v}`), { requireSignedURLs: v });
			assert.equal(r.status, 200, L.show(r));
			assert.equal(r.json.result.requireSignedURLs, want, v);
		}
		const bad = await cfUpload(srv, L.makePng(8, 8, 'bad'), { requireSignedURLs: 'maybe' });
		assert.equal(bad.status, 400);
		const badMeta = await cfUpload(srv, L.makePng(8, 8, 'bad2'), { metadata: '[1,2]' });
		assert.equal(badMeta.status, 400);
		assert.equal(L.errCode(badMeta), 'invalid_metadata');
	});

	test('another account id answers 404; a token is checked first', { timeout: T }, async () => {
		const r = await L.api(srv, 'GET', '/accounts/someone-else/images/v1');
		assert.equal(r.status, 404, L.show(r));
		assert.equal(L.errCode(r), 'not_found');
		const noTok = await L.req(srv, 'GET', `${A}/v1`);
		assert.equal(noTok.status, 401);
	});

	test('metrics class Cloudflare\'s paths as Pictor\'s own', { timeout: T }, async () => {
		const m = await L.req(srv, 'GET', '/metrics');
		// Pictor's upload answers 201; an upload answered 200 came by the account path.
		assert.match(m.text, /pictor_http_request_duration_seconds_count\{route="upload",status="200"\} [1-9]/);
		assert.match(m.text, /pictor_http_request_duration_seconds_count\{route="images",status="200"\} [1-9]/);
	});

	test('stats count the images', { timeout: T }, async () => {
		const before = (await L.api(srv, 'GET', `${A}/v1/stats`)).json.result.count;
		assert.equal(typeof before.current, 'number');
		assert.ok(before.allowed >= before.current);
		await cfUpload(srv, L.makePng(8, 8, 'stats'));
		const now = (await L.api(srv, 'GET', `${A}/v1/stats`)).json.result.count;
		assert.equal(now.current, before.current + 1);
	});

	test('list parameters out of Cloudflare\'s ranges answer 400', { timeout: T }, async () => {
		for (const q of ['per_page=9', 'per_page=10001', 'page=0', 'per_page=x']) {
			const r = await L.api(srv, 'GET', `${A}/v1?${q}`);
			assert.equal(r.status, 400, `${q}: ${L.show(r)}`);
		}
		for (const q of ['per_page=5', 'sort_order=up', 'continuation_token=zz']) {
			const r = await L.api(srv, 'GET', `${A}/v2?${q}`);
			assert.equal(r.status, 400, `${q}: ${L.show(r)}`);
		}
	});

	test('the keys and stats paths are never taken for image ids', { timeout: T }, async () => {
		for (const m of ['PATCH', 'DELETE']) {
			for (const p of ['keys', 'stats', 'variants']) {
				const r = await L.api(srv, m, `${A}/v1/${p}`, m === 'PATCH' ? {} : undefined);
				assert.equal(r.status, 405, `${m} ${p}: ${L.show(r)}`);
			}
		}
	});
});

describe('listing while uploads happen', () => {
	let srv;
	before(async () => {
		srv = await L.startServer({ args: ARGS });
	});
	after(async () => {
		await srv?.kill();
	});

	test('v1 pages and v2 tokens each list every earlier image exactly once', { timeout: 3 * T }, async () => {
		const initial = [];
		for (let i = 0; i < 45; i++) {
			const r = await cfUpload(srv, L.makePng(8, 8, `base-${i}`), { id: `base-${String(i).padStart(3, '0')}` });
			assert.equal(r.status, 200, L.show(r));
			initial.push(r.json.result.id);
		}
		// Uploads keep arriving while both walks run.
		let stop = false;
		let extra = 0;
		const writer = (async () => {
			while (!stop) {
				const r = await cfUpload(srv, L.makePng(8, 8, `extra-${extra}`), { id: `extra-${extra}` });
				assert.equal(r.status, 200, L.show(r));
				extra++;
			}
		})();
		const v1 = [];
		for (let page = 1; ; page++) {
			const r = await L.api(srv, 'GET', `${A}/v1?page=${page}&per_page=10`);
			assert.equal(r.status, 200, L.show(r));
			const ids = r.json.result.images.map((x) => x.id);
			v1.push(...ids);
			if (ids.length < 10) break;
			await L.sleep(5);
		}
		const walk = async (order) => {
			const out = [];
			let token = null;
			for (;;) {
				const q = new URLSearchParams({ per_page: '10', sort_order: order });
				if (token) q.set('continuation_token', token);
				const r = await L.api(srv, 'GET', `${A}/v2?${q}`);
				assert.equal(r.status, 200, L.show(r));
				out.push(...r.json.result.images.map((x) => x.id));
				token = r.json.result.continuation_token;
				if (!token) return out;
				assert.equal(typeof token, 'string');
				await L.sleep(5);
			}
		};
		const asc = await walk('asc');
		const desc = await walk('desc');
		stop = true;
		await writer;
		assert.ok(extra > 0, 'uploads happened during the walks');
		for (const [name, ids] of [['v1', v1], ['v2 asc', asc], ['v2 desc', desc]]) {
			assert.equal(new Set(ids).size, ids.length, `${name}: no image twice`);
			for (const id of initial) assert.ok(ids.includes(id), `${name}: ${id} listed`);
		}
		// oldest first for v1 and v2 asc: the initial images in upload order
		assert.deepEqual(v1.slice(0, initial.length), initial);
		assert.deepEqual(asc.slice(0, initial.length), initial);
		const descInitial = desc.filter((id) => id.startsWith('base-'));
		assert.deepEqual(descInitial, [...initial].reverse());
	});
});

describe('signing keys', () => {
	let srv;
	let dataDir;
	let id;
	after(async () => {
		await srv?.kill();
	});

	const status = async (p, key) => {
		const r = await L.req(srv, 'GET', L.signedPath(p, key, L.now() + 300));
		return r.status === 200 ? 'ok' : L.errCode(r);
	};

	test('list, create, rotate, delete: durable, effective on the next request', { timeout: 2 * T }, async () => {
		srv = await L.startServer({ args: ARGS });
		dataDir = srv.dataDir;
		id = (await cfUpload(srv, L.makePng(16, 16, 'keys'), { requireSignedURLs: 'true' })).json.result.id;
		const p = `/img/${id}/public`;
		const list = await L.api(srv, 'GET', `${A}/v1/keys`);
		assert.equal(list.status, 200, L.show(list));
		assert.deepEqual(list.json.result.keys, [{ name: 'default', value: srv.signingKeys[0] }]);

		const put = await L.api(srv, 'PUT', `${A}/v1/keys/second`);
		assert.equal(put.status, 200, L.show(put));
		const keys = put.json.result.keys;
		assert.deepEqual(keys.map((k) => k.name), ['default', 'second']);
		const second = keys[1].value;
		assert.match(second, /^[0-9a-f]{64}$/);
		assert.equal(await status(p, second), 'ok', 'a new key verifies at once');
		assert.equal(await status(p, srv.signingKeys[0]), 'ok', 'the old key still verifies');

		const third = await L.api(srv, 'PUT', `${A}/v1/keys/third`);
		assert.equal(third.status, 409, L.show(third));
		assert.equal(L.errCode(third), 'too_many_keys');

		const rot = await L.api(srv, 'PUT', `${A}/v1/keys/second`);
		assert.equal(rot.status, 200);
		const rotated = rot.json.result.keys.find((k) => k.name === 'second').value;
		assert.notEqual(rotated, second);
		assert.equal(await status(p, second), 'invalid_signature', 'a rotated-out value stops verifying');
		assert.equal(await status(p, rotated), 'ok');

		const del = await L.api(srv, 'DELETE', `${A}/v1/keys/default`);
		assert.equal(del.status, 200, L.show(del));
		assert.deepEqual(del.json.result.keys, [{ name: 'second', value: rotated }]);
		assert.equal(await status(p, srv.signingKeys[0]), 'invalid_signature');
		const gone = await L.api(srv, 'DELETE', `${A}/v1/keys/default`);
		assert.equal(gone.status, 404);
		assert.equal(L.errCode(gone), 'key_not_found');
		const badName = await L.api(srv, 'PUT', `${A}/v1/keys/bad.name`);
		assert.equal(badName.status, 400);

		// The change is in secrets.json, so a restart and `pictor sign` see it.
		const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'secrets.json'), 'utf8'));
		assert.deepEqual(secrets.signing_keys, [rotated]);
		assert.deepEqual(secrets.signing_key_names, ['second']);
		assert.ok(secrets.admin_token, 'the admin token is kept');
		srv.proc.kill('SIGKILL');
		await srv.exited;
		srv = await L.startServer({ dataDir, args: ARGS });
		assert.equal(await status(p, rotated), 'ok', 'verifies after a restart');
		const again = await L.api(srv, 'GET', `${A}/v1/keys`);
		assert.deepEqual(again.json.result.keys, [{ name: 'second', value: rotated }]);
		const r = await L.runCli(['sign', p, '--ttl', '100', '--data', dataDir]);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(await L.req(srv, 'GET', r.stdout.trim().replace(/^https?:\/\/[^/]+/, '')).then((x) => x.status), 200);

		// Deleting the last key leaves a new default one.
		const last = await L.api(srv, 'DELETE', `${A}/v1/keys/second`);
		assert.equal(last.status, 200);
		assert.equal(last.json.result.keys.length, 1);
		assert.equal(last.json.result.keys[0].name, 'default');
		assert.notEqual(last.json.result.keys[0].value, rotated);
	});

	test('keys given by --signing-keys are listed but not changed', { timeout: T }, async () => {
		await srv?.kill();
		srv = await L.startServer({ args: [...ARGS, '--signing-keys', 'k-one,k-two'] });
		const list = await L.api(srv, 'GET', `${A}/v1/keys`);
		assert.deepEqual(list.json.result.keys, [{ name: 'default', value: 'k-one' }, { name: 'key-2', value: 'k-two' }]);
		const put = await L.api(srv, 'PUT', `${A}/v1/keys/default`);
		assert.equal(put.status, 409);
		assert.equal(L.errCode(put), 'keys_pinned');
	});
});

describe('the /{account_hash}/{id}/{variant} delivery form', () => {
	let srv;
	before(async () => {
		const dir = await L.tmpDir();
		await fs.writeFile(path.join(dir, 'secrets.json'),
			JSON.stringify({ admin_token: 'cf-admin-token-0123456789', signing_keys: [VECTOR.key] }), { mode: 0o600 });
		srv = await L.startServer({ dataDir: dir, args: ARGS });
		const r = await cfUpload(srv, L.makePng(64, 48, 'vector'), { id: VECTOR.id, requireSignedURLs: 'true' });
		assert.equal(r.status, 200, L.show(r));
		const v = await L.api(srv, 'POST', `${A}/v1/variants`, { id: VECTOR.variant, options: { width: 32, fit: 'scale-down' } });
		assert.equal(v.status, 200, L.show(v));
	});
	after(async () => {
		await srv?.kill();
	});

	test('Cloudflare\'s test vector as a request: the signature holds, the expiry has passed', { timeout: T }, async () => {
		const p = `/${VECTOR.hash}/${VECTOR.id}/${VECTOR.variant}`;
		const r = await L.req(srv, 'GET', `${p}?exp=${VECTOR.exp}&sig=${VECTOR.sig}`);
		assert.equal(r.status, 403, L.show(r));
		assert.equal(L.errCode(r), 'expired', 'a valid signature over exactly this path, long expired');
		const flipped = VECTOR.sig.replace(/^./, (c) => (c === '0' ? '1' : '0'));
		assert.equal(L.errCode(await L.req(srv, 'GET', `${p}?exp=${VECTOR.exp}&sig=${flipped}`)), 'invalid_signature');
		const fresh = await L.req(srv, 'GET', L.signedPath(p, VECTOR.key, L.now() + 600));
		assert.equal(fresh.status, 200, L.show(fresh));
		assert.equal(L.probe(fresh.body).width, 32);
		assert.equal(L.errCode(await L.req(srv, 'GET', p)), 'signature_required');
		// a signature over the /img form does not open the hash form
		const other = L.signedPath(`/img/${VECTOR.id}/${VECTOR.variant}`, VECTOR.key, L.now() + 600);
		const q = other.slice(other.indexOf('?'));
		assert.equal(L.errCode(await L.req(srv, 'GET', p + q)), 'invalid_signature');
	});

	test('equivalent to /img: same bytes, ETag and headers for named variants and options', { timeout: T }, async () => {
		const r = await cfUpload(srv, L.makePng(50, 40, 'pub'), { id: 'pub-one' });
		assert.equal(r.status, 200);
		// Records list the imagedelivery.net form, as Cloudflare does.
		assert.ok(r.json.result.variants.includes(`${srv.base}/${VECTOR.hash}/pub-one/public`), JSON.stringify(r.json.result.variants));
		assert.ok(r.json.result.variants.includes(`${srv.base}/${VECTOR.hash}/pub-one/${VECTOR.variant}`));
		for (const u of r.json.result.variants) assert.equal((await fetch(u)).status, 200, u);
		for (const v of ['public', VECTOR.variant, 'w=20,h=10,fit=cover', 'width=25,format=json']) {
			const a = await L.req(srv, 'GET', `/img/pub-one/${v}`, { headers: { Accept: 'image/webp' } });
			const b = await L.req(srv, 'GET', `/${VECTOR.hash}/pub-one/${v}`, { headers: { Accept: 'image/webp' } });
			assert.equal(a.status, 200, L.show(a));
			assert.equal(b.status, 200, L.show(b));
			assert.ok(a.body.equals(b.body), `${v}: same bytes`);
			for (const h of ['etag', 'content-type', 'cache-control', 'vary']) assert.equal(b.headers.get(h), a.headers.get(h), `${v}: ${h}`);
			const nm = await L.req(srv, 'GET', `/${VECTOR.hash}/pub-one/${v}`, { headers: { Accept: 'image/webp', 'If-None-Match': a.headers.get('etag') } });
			assert.equal(nm.status, 304);
		}
		const head = await L.req(srv, 'HEAD', `/${VECTOR.hash}/pub-one/public`);
		assert.equal(head.status, 200);
		for (const p of [`/${VECTOR.hash}/nope/public`, `/${VECTOR.hash}/pub-one/nope`]) {
			const x = await L.req(srv, 'GET', p);
			assert.equal(x.status, 404, L.show(x));
		}
	});

	test('only the configured hash matches; other paths keep their routes', { timeout: T }, async () => {
		const r = await L.req(srv, 'GET', '/someotherhash/pub-one/public');
		assert.equal(r.status, 404);
		assert.equal(L.errCode(r), 'not_found');
		assert.match(L.errMessage(r), /no route/);
		const v = await L.api(srv, 'GET', '/v1/images/pub-one');
		assert.equal(v.status, 200);
		const ok = await L.req(srv, 'POST', `/${VECTOR.hash}/pub-one/public`);
		assert.equal(ok.status, 405);
	});

	test('without --account-hash the form is off', { timeout: T }, async () => {
		const s2 = await L.startServer({ args: ['--moderation', 'off'] });
		try {
			await L.upload(s2, L.makePng(8, 8, 'nohash'), { id: 'x1' });
			const r = await L.req(s2, 'GET', `/${VECTOR.hash}/x1/public`);
			assert.equal(r.status, 404);
			const any = await L.api(s2, 'GET', '/accounts/anything/images/v1/x1');
			assert.equal(any.status, 200, 'any account id without --account-id');
		} finally {
			await s2.kill();
		}
	});
});
