// Signed URLs: Cloudflare's test vector through `pictor sign`, the 403 codes,
// Cache-Control of signed answers, key rotation.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
const VECTOR = {
	key: 'example-signing-key',
	path: '/cheeW4oKsx5ljh8e8BoL2A/bc27a117-9509-446b-8c69-c81bfeac0a01/mobile',
	exp: 1631289275,
	sig: '4b715c36545beca2c56e6eb22bcaff6491e66eaeb526747311d6e19962217666',
};

async function writeSecrets(dir, secrets) {
	await fs.writeFile(path.join(dir, 'secrets.json'), JSON.stringify(secrets), { mode: 0o600 });
}

// The signed path in the CLI's output: its last non-empty line, which may be
// a bare path or a full URL.
function signedFromOutput(out) {
	const line = out.trim().split('\n').map((s) => s.trim()).filter(Boolean).pop() ?? '';
	return line.replace(/^https?:\/\/[^/]+/, '');
}

describe('the Cloudflare test vector', () => {
	test('node:crypto agrees with the vector (sanity)', () => {
		assert.equal(L.sign(VECTOR.path, VECTOR.key, VECTOR.exp), VECTOR.sig);
	});

	test('pictor sign --exp gives the vector\'s signature', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		await writeSecrets(dir, { admin_token: 'x', signing_keys: [VECTOR.key] });
		const r = await L.runCli(['sign', VECTOR.path, '--data', dir, '--exp', String(VECTOR.exp)]);
		assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
		assert.equal(signedFromOutput(r.stdout), `${VECTOR.path}?exp=${VECTOR.exp}&sig=${VECTOR.sig}`, r.stdout);
	});

	test('pictor sign --signing-keys takes the key from the flag', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		await writeSecrets(dir, { admin_token: 'x', signing_keys: ['some-other-key'] });
		const r = await L.runCli(['sign', VECTOR.path, '--data', dir, '--exp', String(VECTOR.exp),
			'--signing-keys', `${VECTOR.key},some-other-key`]);
		assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
		assert.equal(signedFromOutput(r.stdout), `${VECTOR.path}?exp=${VECTOR.exp}&sig=${VECTOR.sig}`, r.stdout);
	});
});

describe('signed delivery', () => {
	let srv;
	let id; // requireSignedURLs
	let pubId; // public image
	let key;
	before(async () => {
		srv = await L.startServer();
		key = srv.signingKeys?.[0];
		assert.ok(key, 'signing_keys read from secrets.json');
		const a = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'), { requireSignedURLs: true });
		const b = await L.upload(srv, L.makePng(64, 64, 'public-signing'));
		assert.equal(a.status, 201, L.show(a));
		assert.equal(b.status, 201, L.show(b));
		assert.equal(a.record.requireSignedURLs, true);
		id = a.record.id;
		pubId = b.record.id;
	});
	after(async () => {
		await srv?.kill();
	});

	const expect403 = async (p, code) => {
		const r = await L.req(srv, 'GET', p);
		assert.equal(r.status, 403, L.show(r));
		assert.equal(L.errCode(r), code, L.show(r));
		assert.ok(!/immutable/.test(r.headers.get('cache-control') ?? ''), '403 must not be cached as immutable');
		return r;
	};

	test('no signature -> 403 signature_required', { timeout: T }, async () => {
		for (const v of ['public', 'thumbnail', 'w=100', 'w=100,f=png']) await expect403(`/img/${id}/${v}`, 'signature_required');
		const h = await L.req(srv, 'HEAD', `/img/${id}/public`);
		assert.equal(h.status, 403);
		const half = await L.req(srv, 'GET', `/img/${id}/public?exp=${L.now() + 100}`);
		assert.equal(half.status, 403, L.show(half));
	});

	test('valid signature -> 200, Cache-Control max-age within the remaining life', { timeout: T }, async () => {
		const exp = L.now() + 600;
		const p = `/img/${id}/w=100,f=jpeg`;
		const r = await L.req(srv, 'GET', L.signedPath(p, key, exp));
		assert.equal(r.status, 200, L.show(r));
		assert.equal(L.probe(r.body).width, 100);
		const cc = r.headers.get('cache-control') ?? '';
		assert.match(cc, /\bpublic\b/);
		assert.ok(!/immutable/.test(cc), `signed answers are not immutable: ${cc}`);
		const m = cc.match(/max-age=(\d+)/);
		assert.ok(m, `no max-age: ${cc}`);
		const maxAge = Number(m[1]);
		assert.ok(maxAge <= exp - L.now() + 1 && maxAge > 0 && maxAge >= 600 - 30, `max-age ${maxAge} for ${exp - L.now()} s left`);
		const named = await L.req(srv, 'GET', L.signedPath(`/img/${id}/thumbnail`, key, exp));
		assert.equal(named.status, 200, L.show(named));
		const head = await L.req(srv, 'HEAD', L.signedPath(`/img/${id}/thumbnail`, key, exp));
		assert.equal(head.status, 200);
	});

	test('tampered path -> 403 invalid_signature', { timeout: T }, async () => {
		const exp = L.now() + 600;
		const sig = L.sign(`/img/${id}/public`, key, exp);
		await expect403(`/img/${id}/thumbnail?exp=${exp}&sig=${sig}`, 'invalid_signature');
		await expect403(`/img/${id}/w=100?exp=${exp}&sig=${sig}`, 'invalid_signature');
		const sig2 = L.sign(`/img/${pubId}/public`, key, exp);
		await expect403(`/img/${id}/public?exp=${exp}&sig=${sig2}`, 'invalid_signature');
	});

	test('tampered exp -> 403 invalid_signature', { timeout: T }, async () => {
		const exp = L.now() + 600;
		const p = `/img/${id}/public`;
		const sig = L.sign(p, key, exp);
		await expect403(`${p}?exp=${exp + 1}&sig=${sig}`, 'invalid_signature');
		await expect403(`${p}?exp=${exp + 100000}&sig=${sig}`, 'invalid_signature');
	});

	test('malformed signatures -> 403 invalid_signature', { timeout: T }, async () => {
		const exp = L.now() + 600;
		const p = `/img/${id}/public`;
		const sig = L.sign(p, key, exp);
		for (const s of [sig.slice(0, -1), sig + '0', 'zz' + sig.slice(2), '', 'x']) {
			const r = await L.req(srv, 'GET', `${p}?exp=${exp}&sig=${s}`);
			assert.equal(r.status, 403, `sig ${s}: ${L.show(r)}`);
			assert.ok(['invalid_signature', 'signature_required'].includes(L.errCode(r)), L.show(r));
		}
	});

	test('correctly signed but expired -> 403 expired', { timeout: T }, async () => {
		const p = `/img/${id}/public`;
		for (const exp of [L.now() - 10, L.now() - 86400, 1]) await expect403(L.signedPath(p, key, exp), 'expired');
	});

	test('signed with an unknown key -> 403 invalid_signature', { timeout: T }, async () => {
		const p = `/img/${id}/public`;
		await expect403(L.signedPath(p, 'not-a-key-of-this-server', L.now() + 600), 'invalid_signature');
	});

	test('public image: no signature is fine, a bad one is checked', { timeout: T }, async () => {
		const p = `/img/${pubId}/public`;
		const r = await L.req(srv, 'GET', p);
		assert.equal(r.status, 200);
		const good = await L.req(srv, 'GET', L.signedPath(p, key, L.now() + 600));
		assert.equal(good.status, 200, L.show(good));
		assert.ok(!/immutable/.test(good.headers.get('cache-control') ?? ''), 'a signed answer gets the signature\'s life');
		await expect403(L.signedPath(p, 'unknown-key', L.now() + 600), 'invalid_signature');
		await expect403(L.signedPath(p, key, L.now() - 5), 'expired');
	});

	test('PATCH requireSignedURLs=false opens the image; true closes it', { timeout: T }, async () => {
		const up = await L.upload(srv, L.makePng(20, 20, 'toggle'));
		const p = `/img/${up.record.id}/public`;
		assert.equal((await L.req(srv, 'GET', p)).status, 200);
		assert.equal((await L.api(srv, 'PATCH', `/v1/images/${up.record.id}`, { requireSignedURLs: true })).status, 200);
		await expect403(p, 'signature_required');
		assert.equal((await L.api(srv, 'PATCH', `/v1/images/${up.record.id}`, { requireSignedURLs: false })).status, 200);
		assert.equal((await L.req(srv, 'GET', p)).status, 200);
	});

	test('pictor sign PATH --ttl 60 --data DIR verifies', { timeout: T }, async () => {
		const p = `/img/${id}/w=50,f=png`;
		const t0 = L.now();
		const r = await L.runCli(['sign', p, '--ttl', '60', '--data', srv.dataDir]);
		assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
		const signed = signedFromOutput(r.stdout);
		const m = signed.match(/^(.*)\?exp=(\d+)&sig=([0-9a-f]{64})$/);
		assert.ok(m, `unexpected output: ${r.stdout}`);
		assert.equal(m[1], p);
		const exp = Number(m[2]);
		assert.ok(exp >= t0 + 59 && exp <= L.now() + 61, `exp ${exp} is not now+60`);
		assert.equal(m[3], L.sign(p, key, exp), 'signed with the first key');
		const res = await L.req(srv, 'GET', signed);
		assert.equal(res.status, 200, L.show(res));
		const ma = Number((res.headers.get('cache-control') ?? '').match(/max-age=(\d+)/)?.[1]);
		assert.ok(ma <= 61 && ma > 0, `max-age ${ma}`);
	});
});

describe('key rotation', () => {
	let srv;
	let dataDir;
	let id;
	let oldKey;
	const newKey = 'b'.repeat(64);
	const third = 'c'.repeat(64);
	after(async () => {
		await srv?.kill();
	});

	const status = async (k) => {
		const r = await L.req(srv, 'GET', L.signedPath(`/img/${id}/public`, k, L.now() + 300));
		return [r.status, r.status === 200 ? 'ok' : L.errCode(r)];
	};

	test('new key first, old key after: both verify, others fail', { timeout: 2 * T }, async () => {
		srv = await L.startServer();
		dataDir = srv.dataDir;
		oldKey = srv.signingKeys[0];
		id = (await L.upload(srv, L.makePng(32, 32, 'rot'), { requireSignedURLs: true })).record.id;
		assert.deepEqual(await status(oldKey), [200, 'ok']);
		assert.deepEqual(await status(newKey), [403, 'invalid_signature']);
		assert.equal(await srv.stop(), 0);

		const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'secrets.json'), 'utf8'));
		secrets.signing_keys = [newKey, oldKey];
		await writeSecrets(dataDir, secrets);
		srv = await L.startServer({ dataDir });
		assert.deepEqual(await status(oldKey), [200, 'ok'], 'old key still verifies');
		assert.deepEqual(await status(newKey), [200, 'ok'], 'new key verifies');
		assert.deepEqual(await status(third), [403, 'invalid_signature']);
		// the CLI signs with the first (new) key
		const r = await L.runCli(['sign', `/img/${id}/public`, '--ttl', '100', '--data', dataDir]);
		assert.equal(r.code, 0, r.stderr);
		const m = signedFromOutput(r.stdout).match(/exp=(\d+)&sig=([0-9a-f]+)/);
		assert.equal(m?.[2], L.sign(`/img/${id}/public`, newKey, Number(m?.[1])), 'pictor sign uses the first key');
		assert.equal(await srv.stop(), 0);
	});

	test('--signing-keys replaces the keys of secrets.json', { timeout: 2 * T }, async () => {
		assert.ok(dataDir, 'needs the previous test');
		srv = await L.startServer({ dataDir, args: ['--signing-keys', `${third},${newKey}`] });
		assert.deepEqual(await status(third), [200, 'ok']);
		assert.deepEqual(await status(newKey), [200, 'ok']);
		assert.deepEqual(await status(oldKey), [403, 'invalid_signature'], 'the old key is gone');
		assert.equal(await srv.stop(), 0);
		srv = await L.startServer({ dataDir, env: { PICTOR_SIGNING_KEYS: oldKey } });
		assert.deepEqual(await status(oldKey), [200, 'ok'], 'PICTOR_SIGNING_KEYS');
		assert.deepEqual(await status(third), [403, 'invalid_signature']);
	});
});
