// pictor migrate from an embedded installation (data directory: files +
// LMDB) into a real S3 (the Ceph RGW tests/s3/run.sh started) and a real
// PostgreSQL (started here with tests/pg/pg.sh): refused beside the
// daemon, killed with SIGKILL once among the originals and once among the
// keys, finished by a third run, a no-op fourth; then a daemon on the
// targets alone (a fresh data directory holding only secrets.json) serves
// every original byte-identical, the same records, variants and hash list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as L from '../e2e/lib.mjs';

const T = 300000 * L.TIME_SCALE;
const PG_SH = path.join(L.ROOT, 'tests', 'pg', 'pg.sh');
const havePg = fs.existsSync('/usr/lib/postgresql') &&
	fs.readdirSync('/usr/lib/postgresql').some((v) => fs.existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
const skip = !process.env.RGW_DIR ? 'needs tests/s3/run.sh (make s3)'
	: !havePg ? 'needs PostgreSQL (apt-get install postgresql)' : false;

// The environment of a CLI run on the embedded source: ours without
// PICTOR_* (the suite's own settings), originals in the data directory.
function cliEnv() {
	const env = {};
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PICTOR_')) env[k] = v;
	return { ...env, PICTOR_MODELS: L.MODELS, PICTOR_BLOB: 'file' };
}

// Run pictor migrate; with killOn, SIGKILL it at the first stderr line
// matching. Resolves {code, signal, stdout, stderr}.
function migrate(args, killOn = null) {
	return new Promise((resolve, reject) => {
		const p = spawn(L.BIN, ['migrate', ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		const timer = setTimeout(() => p.kill('SIGKILL'), 120000 * L.TIME_SCALE);
		p.stdout.on('data', (c) => { out += c; });
		p.stderr.on('data', (c) => {
			err += c;
			if (killOn && killOn.test(err)) p.kill('SIGKILL');
		});
		p.on('error', reject);
		p.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout: out, stderr: err });
		});
	});
}

// A record as another node shows it: the variant URLs name the server.
const comparable = (r) => ({ ...r, variants: (r.variants ?? []).map((u) => u.replace(/^https?:\/\/[^/]+/, '')) });

test('migrate into S3 + PostgreSQL, killed twice and resumed', { skip, timeout: T }, async () => {
	const pgDir = path.join(os.tmpdir(), `pictor-migrate-pg-${process.pid}`);
	const pg = spawnSync(PG_SH, ['start', pgDir], { encoding: 'utf8' });
	assert.equal(pg.status, 0, `pg.sh start: ${pg.stderr}`);
	const toMeta = pg.stdout.trim();
	const toBlob = `s3://${process.env.RGW_BUCKET}/migrate-${process.pid}?endpoint=${process.env.RGW_ENDPOINT}&path_style=1`;
	const servers = [];
	try {
		// the embedded installation
		const data = await L.tmpDir('pictor-migrate-');
		const src = await L.startServer({ dataDir: data, env: { PICTOR_BLOB: 'file' }, args: ['--moderation', 'off'] });
		servers.push(src);
		let r = await L.api(src, 'POST', '/v1/variants', { id: 'thumb', options: { width: 16, fit: 'cover' } });
		assert.equal(r.status, 200, L.show(r));
		r = await L.api(src, 'POST', '/v1/hashlists', { name: 'known', action: 'flag' });
		assert.equal(r.status, 201, L.show(r));
		r = await L.req(src, 'POST', '/v1/hashlists/known/hashes', {
			auth: true, headers: { 'Content-Type': 'text/plain' },
			body: 'd8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22\n',
		});
		assert.equal(r.status, 200, L.show(r));
		const originals = new Map();
		for (let i = 0; i < 6; i++) {
			const bytes = L.makePng(24 + i * 8, 20 + i * 4, `migrate-${i}`);
			const up = await L.upload(src, bytes, {
				filename: `m${i}.png`, metadata: { n: i, owner: 'migrate' }, requireSignedURLs: i === 0,
			});
			assert.equal(up.status, 201, L.show(up));
			originals.set(up.record.id, bytes);
			// a rendered variant too (cached in the data directory only)
			if (i > 0) assert.equal((await L.req(src, 'GET', `/img/${up.record.id}/thumb`)).status, 200);
		}
		const records = new Map();
		for (const id of originals.keys()) {
			const g = await L.api(src, 'GET', `/v1/images/${id}`);
			assert.equal(g.status, 200, L.show(g));
			records.set(id, comparable(g.json.result));
		}
		const variants = (await L.api(src, 'GET', '/v1/variants')).json.result;
		const lists = (await L.api(src, 'GET', '/v1/hashlists')).json.result;

		const args = ['--data', data, '--to-blob', toBlob, '--to-meta', toMeta];
		// not beside the daemon
		let m = await migrate(args);
		assert.equal(m.code, 3, m.stderr);
		assert.match(m.stderr, /in use/);
		assert.equal(await src.stop(), 0);

		// killed after the first original, then after the first batch of keys
		m = await migrate([...args, '--verbose', '--rate', '2'], /^migrate: copied /m);
		assert.equal(m.signal, 'SIGKILL', `the run finished before the kill:\n${m.stderr}`);
		m = await migrate([...args, '--verbose', '--rate', '5', '--batch', '8'], /^migrate: committed /m);
		assert.equal(m.signal, 'SIGKILL', `the run finished before the kill:\n${m.stderr}`);
		assert.match(m.stderr, /^migrate: present /m, 'the second run found the first one\'s original');

		m = await migrate([...args, '--json', '--batch', '8']);
		assert.equal(m.code, 0, m.stderr + m.stdout);
		let s = JSON.parse(m.stdout);
		assert.equal(s.complete, true);
		assert.equal(s.originals.total, 6);
		assert.ok(s.originals.present >= 2 && s.originals.copied === 6 - s.originals.present, m.stdout);
		assert.equal(s.originals.damaged, 0);
		assert.ok(s.keys.present >= 8 && s.keys.copied === s.keys.total - s.keys.present, m.stdout);
		assert.equal(s.conflicts, 0);
		assert.equal(s.mismatched, 0);
		m = await migrate([...args, '--json']);
		assert.equal(m.code, 0, m.stderr + m.stdout);
		s = JSON.parse(m.stdout);
		assert.deepEqual([s.originals.copied, s.originals.present, s.keys.copied], [0, 6, 0], m.stdout);

		// a node on the targets alone
		const node = await L.tmpDir('pictor-migrate-node-');
		fs.copyFileSync(path.join(data, 'secrets.json'), path.join(node, 'secrets.json'));
		const dst = await L.startServer({
			dataDir: node, env: { PICTOR_BLOB: toBlob, PICTOR_META: toMeta }, args: ['--moderation', 'off'],
		});
		servers.push(dst);
		for (const [id, bytes] of originals) {
			const b = await L.api(dst, 'GET', `/v1/images/${id}/blob`);
			assert.equal(b.status, 200, L.show(b));
			assert.equal(L.sha256(b.body), L.sha256(bytes), `original of ${id}`);
			const g = await L.api(dst, 'GET', `/v1/images/${id}`);
			assert.deepEqual(comparable(g.json.result), records.get(id));
			const v = await L.req(dst, 'GET', records.get(id).requireSignedURLs
				? L.signedPath(`/img/${id}/thumb`, dst.signingKeys[0], L.now() + 300) : `/img/${id}/thumb`);
			assert.equal(v.status, 200, L.show(v));
		}
		assert.deepEqual((await L.api(dst, 'GET', '/v1/variants')).json.result, variants);
		assert.deepEqual((await L.api(dst, 'GET', '/v1/hashlists')).json.result, lists);
		const all = await L.listAll(dst);
		assert.equal(all.length, originals.size);
	} finally {
		for (const s of servers) await s.kill();
		spawnSync(PG_SH, ['stop', pgDir]);
	}
});
