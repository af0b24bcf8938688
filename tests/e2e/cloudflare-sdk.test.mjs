// Pictor driven by Cloudflare's official Node SDK (`cloudflare`, pinned in
// tests/cloudflare/package-lock.json, installed from the npm registry by
// tests/cloudflare/install.sh), its baseURL on loopback: every Images
// operation the SDK offers, checked against the SDK's declared result
// types, and v1/v2 listing while uploads run. A guard on the SDK's fetch
// refuses any host but loopback, so nothing can reach api.cloudflare.com.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 180000 * L.TIME_SCALE;
const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
const SDK_DIR = path.join(L.ROOT, 'tests', 'cloudflare');

let CF; // the SDK module
let srv;
let client;
const hosts = new Set();

// The SDK reads CLOUDFLARE_* from the environment; none of ours may leak in.
for (const k of Object.keys(process.env)) if (k.startsWith('CLOUDFLARE_')) delete process.env[k];

function loopbackOnly(url, init) {
	const u = new URL(typeof url === 'string' ? url : url.url ?? String(url));
	// The SDK probes its fetch with a data: URL once; that never leaves.
	if (u.protocol === 'data:') return fetch(url, init);
	hosts.add(u.host);
	if (!['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname)) {
		throw new Error(`the SDK tried to reach ${u.host}; only loopback is allowed`);
	}
	return fetch(url, init);
}

function makeClient(server, token = server.adminToken) {
	return new CF.default({ apiToken: token, baseURL: server.base, fetch: loopbackOnly, maxRetries: 0, timeout: 60000 * L.TIME_SCALE });
}

// The fields of the SDK's `Image` type, with their declared types.
function assertImage(img, want = {}) {
	assert.equal(typeof img.id, 'string');
	assert.equal(typeof img.filename, 'string');
	assert.equal(typeof img.uploaded, 'string');
	assert.ok(!Number.isNaN(Date.parse(img.uploaded)), img.uploaded);
	assert.equal(typeof img.requireSignedURLs, 'boolean');
	assert.ok(Array.isArray(img.variants) && img.variants.every((v) => typeof v === 'string'));
	assert.equal(typeof img.meta, 'object');
	for (const [k, v] of Object.entries(want)) assert.deepEqual(img[k], v, k);
}

async function sdkUpload(bytes, fields = {}) {
	const file = await CF.toFile(Buffer.from(bytes), fields.filename ?? 'photo.png', { type: 'image/png' });
	return client.images.v1.create({ account_id: ACCOUNT, file, ...fields, filename: undefined });
}

before(async () => {
	const inst = spawnSync('bash', [path.join(SDK_DIR, 'install.sh')], { encoding: 'utf8', timeout: 600000 });
	assert.equal(inst.status, 0, `tests/cloudflare/install.sh: ${inst.stderr}`);
	CF = await import(pathToFileURL(path.join(SDK_DIR, 'node_modules', 'cloudflare', 'index.mjs')).href);
	srv = await L.startServer({ args: ['--moderation', 'off', '--account-id', ACCOUNT, '--account-hash', 'sdkhash'] });
	client = makeClient(srv);
});
after(async () => {
	await srv?.kill();
	// Every request the SDK made went to this server.
	for (const h of hosts) assert.match(h, /^(127\.0\.0\.1|\[::1\]|localhost):\d+$/);
});

describe('images.v1 through the SDK', () => {
	test('create, get, edit, blobs.get, delete', { timeout: T }, async () => {
		const png = L.makePng(48, 32, 'sdk-crud');
		const img = await sdkUpload(png, { id: 'sdk-one', metadata: JSON.stringify({ team: 'blue' }), requireSignedURLs: true });
		assertImage(img, { id: 'sdk-one', filename: 'photo.png', meta: { team: 'blue' }, requireSignedURLs: true });
		assert.ok(img.variants.some((v) => v.endsWith('/sdk-one/public')));

		assertImage(await client.images.v1.get('sdk-one', { account_id: ACCOUNT }), { id: 'sdk-one' });
		const edited = await client.images.v1.edit('sdk-one', { account_id: ACCOUNT, metadata: { team: 'red' }, requireSignedURLs: false });
		assertImage(edited, { meta: { team: 'red' }, requireSignedURLs: false });

		const blob = await client.images.v1.blobs.get('sdk-one', { account_id: ACCOUNT });
		assert.equal(blob.status, 200);
		assert.ok(Buffer.from(await blob.arrayBuffer()).equals(png), 'the original bytes');

		const del = await client.images.v1.delete('sdk-one', { account_id: ACCOUNT });
		assert.deepEqual(del, {});
		await assert.rejects(client.images.v1.get('sdk-one', { account_id: ACCOUNT }), (e) => {
			assert.ok(e instanceof CF.NotFoundError, `${e}`);
			assert.equal(e.status, 404);
			assert.equal(e.errors?.[0]?.code, 'not_found');
			return true;
		});
	});

	test('a generated id; a taken id is a ConflictError; a bad token an AuthenticationError', { timeout: T }, async () => {
		const img = await sdkUpload(L.makePng(16, 16, 'sdk-gen'));
		assert.match(img.id, /^[0-9a-f-]{36}$/);
		await sdkUpload(L.makePng(16, 16, 'sdk-taken'), { id: 'taken' });
		await assert.rejects(sdkUpload(L.makePng(16, 16, 'sdk-taken2'), { id: 'taken' }), CF.ConflictError);
		const bad = makeClient(srv, 'not-the-token');
		await assert.rejects(bad.images.v1.stats.get({ account_id: ACCOUNT }), CF.AuthenticationError);
		await assert.rejects(client.images.v1.get(img.id, { account_id: 'another-account' }), CF.NotFoundError);
	});

	test('stats.get', { timeout: T }, async () => {
		const s = await client.images.v1.stats.get({ account_id: ACCOUNT });
		assert.equal(typeof s.count.current, 'number');
		assert.equal(typeof s.count.allowed, 'number');
		await sdkUpload(L.makePng(16, 16, 'sdk-stats'));
		const s2 = await client.images.v1.stats.get({ account_id: ACCOUNT });
		assert.equal(s2.count.current, s.count.current + 1);
	});

	test('variants: create, list, get, edit, delete', { timeout: T }, async () => {
		const options = { fit: 'scale-down', height: 40, metadata: 'none', width: 60 };
		const created = await client.images.v1.variants.create({ account_id: ACCOUNT, id: 'hero', options, neverRequireSignedURLs: true });
		assert.deepEqual(created.variant, { id: 'hero', options, neverRequireSignedURLs: true });
		const list = await client.images.v1.variants.list({ account_id: ACCOUNT });
		assert.deepEqual(list.variants.hero, created.variant);
		const got = await client.images.v1.variants.get('hero', { account_id: ACCOUNT });
		assert.deepEqual(got.variant, created.variant);
		const edited = await client.images.v1.variants.edit('hero', { account_id: ACCOUNT, options: { ...options, width: 30 } });
		assert.equal(edited.variant.options.width, 30);
		// The variant delivers, in both URL forms.
		const img = await sdkUpload(L.makePng(120, 80, 'sdk-variant'));
		const a = await L.req(srv, 'GET', `/img/${img.id}/hero`);
		const b = await L.req(srv, 'GET', `/sdkhash/${img.id}/hero`);
		assert.equal(a.status, 200);
		assert.equal(L.probe(a.body).width, 30);
		assert.ok(a.body.equals(b.body));
		await client.images.v1.variants.delete('hero', { account_id: ACCOUNT });
		await assert.rejects(client.images.v1.variants.get('hero', { account_id: ACCOUNT }), CF.NotFoundError);
	});

	test('keys: list, update (create and rotate), delete', { timeout: T }, async () => {
		const list = await client.images.v1.keys.list({ account_id: ACCOUNT });
		assert.deepEqual(list.keys, [{ name: 'default', value: srv.signingKeys[0] }]);
		const up = await client.images.v1.keys.update('sdk-key', { account_id: ACCOUNT });
		assert.deepEqual(up.keys.map((k) => k.name), ['default', 'sdk-key']);
		const value = up.keys[1].value;
		const img = await sdkUpload(L.makePng(16, 16, 'sdk-keys'), { requireSignedURLs: true });
		const p = `/sdkhash/${img.id}/public`;
		assert.equal((await L.req(srv, 'GET', L.signedPath(p, value, L.now() + 60))).status, 200, 'the new key signs at once');
		const rot = await client.images.v1.keys.update('sdk-key', { account_id: ACCOUNT });
		assert.notEqual(rot.keys[1].value, value);
		assert.equal((await L.req(srv, 'GET', L.signedPath(p, value, L.now() + 60))).status, 403);
		await assert.rejects(client.images.v1.keys.update('third', { account_id: ACCOUNT }), CF.ConflictError);
		const del = await client.images.v1.keys.delete('sdk-key', { account_id: ACCOUNT });
		assert.deepEqual(del.keys, list.keys);
	});
});

describe('images.v2.directUploads through the SDK', () => {
	test('create a one-time URL, upload to it without a token, the image is there', { timeout: T }, async () => {
		const du = await client.images.v2.directUploads.create({ account_id: ACCOUNT, metadata: JSON.stringify({ via: 'sdk' }), requireSignedURLs: false });
		assert.equal(typeof du.id, 'string');
		assert.equal(typeof du.uploadURL, 'string');
		const u = new URL(du.uploadURL);
		assert.equal(u.hostname, '127.0.0.1', du.uploadURL);
		const fd = new FormData();
		const png = L.makePng(24, 24, 'sdk-direct');
		fd.append('file', new Blob([png]), 'direct.png');
		const up = await fetch(du.uploadURL, { method: 'POST', body: fd });
		assert.ok(up.ok, `upload to the one-time URL: ${up.status}`);
		const img = await client.images.v1.get(du.id, { account_id: ACCOUNT });
		assertImage(img, { id: du.id, meta: { via: 'sdk' }, requireSignedURLs: false });
		const blob = await client.images.v1.blobs.get(du.id, { account_id: ACCOUNT });
		assert.ok(Buffer.from(await blob.arrayBuffer()).equals(png));
	});
});

describe('upload from a URL through the SDK', () => {
	test('the url field: fetched from an allowed loopback address, same bytes', { timeout: T }, async () => {
		// The image's origin on its own loopback address, which only this
		// server is allowed to fetch from (--fetch-allow).
		const png = L.makePng(30, 20, 'sdk-url');
		const origin = http.createServer((req, res) => {
			res.writeHead(200, { 'Content-Type': 'image/png' });
			res.end(png);
		});
		await new Promise((r) => origin.listen(0, '127.0.0.7', r));
		const s = await L.startServer({ args: ['--moderation', 'off', '--account-id', ACCOUNT, '--fetch-allow', '127.0.0.7/32'] });
		try {
			const c = makeClient(s);
			const url = `http://127.0.0.7:${origin.address().port}/pic.png`;
			const img = await c.images.v1.create({ account_id: ACCOUNT, url, id: 'from-url', metadata: JSON.stringify({ src: 'url' }), requireSignedURLs: true });
			assertImage(img, { id: 'from-url', meta: { src: 'url' }, requireSignedURLs: true });
			const blob = await c.images.v1.blobs.get('from-url', { account_id: ACCOUNT });
			assert.ok(Buffer.from(await blob.arrayBuffer()).equals(png));
			// An address outside the allowance is refused with a clear error.
			await assert.rejects(c.images.v1.create({ account_id: ACCOUNT, url: `http://127.0.0.1:${s.port}/healthz` }), (e) => {
				assert.ok(e instanceof CF.BadRequestError, `${e}`);
				assert.equal(e.errors?.[0]?.code, 'url_not_allowed');
				return true;
			});
		} finally {
			await s.kill();
			origin.close();
		}
	});
});

describe('listing through the SDK while uploads run', () => {
	test('v1 pages and v2 continuation tokens', { timeout: 2 * T }, async () => {
		const s = await L.startServer({ args: ['--moderation', 'off', '--account-id', ACCOUNT] });
		const c = makeClient(s);
		const up = (i, tag) => CF.toFile(L.makePng(8, 8, `${tag}-${i}`), 'p.png', { type: 'image/png' })
			.then((file) => c.images.v1.create({ account_id: ACCOUNT, file, id: `${tag}-${String(i).padStart(3, '0')}` }));
		try {
			const initial = [];
			for (let i = 0; i < 35; i++) initial.push((await up(i, 'base')).id);
			let stop = false;
			let n = 0;
			const writer = (async () => {
				while (!stop) await up(n++, 'more');
			})();
			const v1 = [];
			for (let page = 1; ; page++) {
				const res = await c.images.v1.list({ account_id: ACCOUNT, page, per_page: 10 });
				const images = res.result.images;
				images.forEach((img) => assertImage(img));
				v1.push(...images.map((x) => x.id));
				if (images.length < 10) break;
			}
			const v2 = [];
			let token;
			do {
				const res = await c.images.v2.list({ account_id: ACCOUNT, per_page: 10, sort_order: 'desc', ...(token ? { continuation_token: token } : {}) });
				res.images.forEach((img) => assertImage(img));
				v2.push(...res.images.map((x) => x.id));
				token = res.continuation_token;
			} while (token);
			stop = true;
			await writer;
			assert.ok(n > 0, 'uploads ran during the walks');
			for (const [name, ids] of [['v1', v1], ['v2', v2]]) {
				assert.equal(new Set(ids).size, ids.length, `${name}: no duplicates`);
				for (const id of initial) assert.ok(ids.includes(id), `${name}: ${id}`);
			}
			assert.deepEqual(v1.slice(0, initial.length), initial, 'v1: oldest first');
			assert.deepEqual(v2.filter((x) => x.startsWith('base-')), [...initial].reverse(), 'v2 desc: newest first');
		} finally {
			await s.kill();
		}
	});
});
