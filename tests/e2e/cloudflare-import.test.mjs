// `pictor import-cloudflare` from one Pictor (standing in for Cloudflare:
// the same API by construction) to another, both on loopback: ids, bytes,
// metadata, variants and the signing requirement identical; a run stopped
// by --limit and one killed mid-way are finished by the next run; a run
// over an imported account changes nothing; --dry-run and --since.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 180000 * L.TIME_SCALE;
const ACCOUNT = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const A = `/accounts/${ACCOUNT}/images`;

let src;
let dst;
const N = 14;

function importArgs(target, extra = []) {
	return ['import-cloudflare', '--account-id', ACCOUNT, '--api-token-env', 'SRC_CF_TOKEN',
		'--base-url', src.base, '--target', target.base, '--data', target.dataDir, ...extra];
}

async function runImport(target, extra = []) {
	const r = await L.runCli(importArgs(target, extra), { env: { SRC_CF_TOKEN: src.adminToken }, timeout: 120000 });
	const m = r.stdout.match(/imported (\d+), updated (\d+), unchanged (\d+), skipped (\d+), failed (\d+); variants created (\d+), updated (\d+), unchanged (\d+)/);
	assert.ok(m, `summary line in: ${r.stdout}\n${r.stderr}`);
	const [imported, updated, unchanged, skipped, failed, vcreated, vupdated, vunchanged] = m.slice(1).map(Number);
	return { ...r, imported, updated, unchanged, skipped, failed, vcreated, vupdated, vunchanged };
}

async function records(server) {
	const out = new Map();
	let token = null;
	do {
		const q = new URLSearchParams({ per_page: '100' });
		if (token) q.set('continuation_token', token);
		const r = await L.api(server, 'GET', `/v1/images?${q}`);
		assert.equal(r.status, 200, L.show(r));
		for (const img of r.json.result.images) out.set(img.id, img);
		token = r.json.result.continuation_token;
	} while (token);
	return out;
}

async function managedVariants(server) {
	const r = await L.api(server, 'GET', '/v1/variants');
	return Object.fromEntries(Object.entries(r.json.result.variants).filter(([, v]) => v.source !== 'config'));
}

// Everything the import promises to carry over is identical.
async function assertSameAccount() {
	const a = await records(src);
	const b = await records(dst);
	assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), 'the same ids');
	for (const [id, ra] of a) {
		const rb = b.get(id);
		assert.deepEqual(rb.meta, ra.meta, `${id}: metadata`);
		assert.equal(rb.requireSignedURLs, ra.requireSignedURLs, `${id}: requireSignedURLs`);
		assert.equal(rb.filename, ra.filename, `${id}: filename`);
		assert.equal(rb.sha256, ra.sha256, `${id}: bytes`);
		const ba = await L.api(src, 'GET', `/v1/images/${id}/blob`);
		const bb = await L.api(dst, 'GET', `/v1/images/${id}/blob`);
		assert.ok(ba.body.equals(bb.body), `${id}: original bytes`);
	}
	assert.deepEqual(await managedVariants(dst), await managedVariants(src), 'the same variants');
}

before(async () => {
	src = await L.startServer({ args: ['--moderation', 'off', '--account-id', ACCOUNT] });
	dst = await L.startServer({ args: ['--moderation', 'off'] });
	for (let i = 0; i < N; i++) {
		const fd = new FormData();
		const bytes = i === 0 ? L.input('rgb.jpg') : i === 1 ? L.input('lossy.webp') : L.makePng(20 + i, 16, `imp-${i}`);
		fd.append('file', new Blob([bytes]), `file-${i}.bin`);
		if (i % 3 === 0) fd.append('id', `custom-${i}`);
		if (i % 2 === 0) fd.append('metadata', JSON.stringify({ n: i, tags: ['a', String(i)] }));
		if (i % 4 === 1) fd.append('requireSignedURLs', 'true');
		const r = await L.req(src, 'POST', `${A}/v1`, { auth: true, body: fd });
		assert.equal(r.status, 200, L.show(r));
	}
	for (const v of [
		{ id: 'hero', options: { width: 1200, height: 600, fit: 'cover', metadata: 'none' } },
		{ id: 'avatar', options: { width: 64, height: 64, fit: 'crop', metadata: 'none' }, neverRequireSignedURLs: true },
	]) {
		const r = await L.api(src, 'POST', `${A}/v1/variants`, v);
		assert.equal(r.status, 200, L.show(r));
	}
});
after(async () => {
	await src?.kill();
	await dst?.kill();
});

describe('import-cloudflare', () => {
	test('--dry-run lists the work and changes nothing', { timeout: T }, async () => {
		const r = await runImport(dst, ['--dry-run']);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(r.imported, N);
		assert.equal(r.vcreated, 2);
		assert.match(r.stdout, /^dry run: /m);
		assert.equal((await records(dst)).size, 0);
		assert.deepEqual(await managedVariants(dst), {});
	});

	test('--since in the future skips every image', { timeout: T }, async () => {
		const r = await runImport(dst, ['--dry-run', '--since', '2999-01-01T00:00:00Z']);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(r.skipped, N);
		assert.equal(r.imported, 0);
		const bad = await L.runCli(importArgs(dst, ['--since', 'yesterday']), { env: { SRC_CF_TOKEN: src.adminToken } });
		assert.notEqual(bad.code, 0);
		assert.match(bad.stderr, /--since/);
	});

	test('stopped by --limit, killed mid-way, then finished: identical', { timeout: 2 * T }, async () => {
		const first = await runImport(dst, ['--limit', '3']);
		assert.equal(first.code, 0, first.stderr);
		assert.equal(first.imported, 3);
		assert.match(first.stdout, /stopped at --limit/);
		assert.equal((await records(dst)).size, 3);

		// Killed as soon as it has imported two more.
		const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PICTOR_')));
		const proc = spawn(L.BIN, importArgs(dst), { env: { ...env, SRC_CF_TOKEN: src.adminToken }, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		const exited = new Promise((res) => proc.on('exit', res));
		await new Promise((res) => {
			proc.stdout.on('data', (d) => {
				out += d;
				if ((out.match(/^import /gm) ?? []).length >= 3) {
					proc.kill('SIGKILL');
					res();
				}
			});
			proc.on('exit', res);
		});
		await exited;
		const mid = (await records(dst)).size;
		assert.ok(mid >= 4 && mid <= N, `${mid} images after the kill`);

		const rest = await runImport(dst);
		assert.equal(rest.code, 0, rest.stdout + rest.stderr);
		assert.equal(rest.failed, 0);
		assert.equal(rest.imported + rest.unchanged, N);
		await assertSameAccount();
	});

	test('a second run changes nothing; a changed source is brought in line', { timeout: T }, async () => {
		const before = await records(dst);
		const again = await runImport(dst);
		assert.equal(again.code, 0, again.stderr);
		assert.deepEqual([again.imported, again.updated, again.unchanged, again.failed], [0, 0, N, 0]);
		assert.deepEqual([again.vcreated, again.vupdated, again.vunchanged], [0, 0, 2]);
		const afterRun = await records(dst);
		for (const [id, r] of before) assert.equal(afterRun.get(id).uploaded, r.uploaded, `${id} untouched`);

		const id = [...before.keys()][0];
		const p = await L.api(src, 'PATCH', `${A}/v1/${id}`, { metadata: { moved: true }, requireSignedURLs: true });
		assert.equal(p.status, 200);
		const v = await L.api(src, 'PATCH', `${A}/v1/variants/hero`, { options: { width: 800, height: 400, fit: 'cover', metadata: 'none' } });
		assert.equal(v.status, 200, L.show(v));
		const third = await runImport(dst);
		assert.equal(third.updated, 1);
		assert.equal(third.vupdated, 1);
		assert.equal(third.imported, 0);
		await assertSameAccount();
	});

	test('a wrong token or account fails clearly', { timeout: T }, async () => {
		const r = await L.runCli(importArgs(dst), { env: { SRC_CF_TOKEN: 'wrong' } });
		assert.equal(r.code, 1);
		assert.match(r.stderr, /HTTP 401/);
		const noVar = await L.runCli(importArgs(dst), { env: {} });
		assert.equal(noVar.code, 2);
		const badLimit = await L.runCli(importArgs(dst, ['--limit', '0']), { env: { SRC_CF_TOKEN: src.adminToken } });
		assert.equal(badLimit.code, 2);
		assert.match(badLimit.stderr, /--limit/);
		const other = await L.runCli([...importArgs(dst)].map((x) => (x === ACCOUNT ? 'someone-else' : x)),
			{ env: { SRC_CF_TOKEN: src.adminToken } });
		assert.equal(other.code, 1);
		assert.match(other.stderr, /HTTP 404/);
	});
});
