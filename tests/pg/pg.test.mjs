// pg.test.mjs - the daemon on a real PostgreSQL (tests/pg/run.sh starts it
// and sets PICTOR_TEST_PG and PG_DIR): a server crash in the middle of a
// stream of uploads, the refusal of a newer schema, and two daemons that
// share one database and one blob directory. Skips without a server.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as L from '../e2e/lib.mjs';

const T = 120000 * L.TIME_SCALE;
const PG = process.env.PICTOR_TEST_PG;
const skip = !PG || !process.env.PG_DIR ? 'PICTOR_TEST_PG and PG_DIR unset (make pg runs this)' : false;

function psql(sql, base = PG) {
	const r = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', base, '-c', sql],
		{ encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
	return r.stdout.trim();
}

function pgctl(cmd) {
	execFileSync('tests/pg/pg.sh', [cmd, process.env.PG_DIR], { cwd: L.ROOT, stdio: 'inherit' });
}

// The schema lib.mjs gives a data directory.
function schemaOf(server) {
	return 'e2e_' + L.sha256(path.resolve(server.dataDir)).slice(0, 16);
}

async function waitReady(server, want) {
	for (let i = 0; i < 300; i++) {
		const r = await L.req(server, 'GET', '/readyz');
		if (r.status === want) return r;
		await L.sleep(100);
	}
	throw new Error(`/readyz never answered ${want}`);
}

describe('postgres', { skip }, () => {
	test('a PostgreSQL crash mid-stream costs the uploads in flight, never the daemon; every 201 is durable', { timeout: 3 * T }, async () => {
		const srv = await L.startServer({ args: ['--moderation', 'off'] });
		try {
			const img = L.input('rgb.jpg');
			const ok = [];
			const failed = [];
			let phase = 'before';
			let stop = false;
			const counts = { before: 0, after: 0 };
			async function stream() {
				while (!stop) {
					const p = phase;
					const r = await L.upload(srv, img, { filename: `s-${p}.jpg`, timeout: 30000 }).catch((e) => ({ status: 0, error: e }));
					if (r.status === 201) {
						ok.push(r.record.id);
						counts[p]++;
					} else {
						failed.push(r);
						await L.sleep(20);
					}
				}
			}
			const streams = [stream(), stream()];
			while (counts.before < 10) await L.sleep(20);

			pgctl('crash');
			phase = 'down';
			const down = await waitReady(srv, 503);
			assert.equal(L.errCode(down), 'storage_unavailable');
			assert.match(L.errMessage(down), /metadata store \(postgres\)/);
			await L.sleep(300); // uploads keep failing meanwhile
			pgctl('up');
			phase = 'after';
			await waitReady(srv, 200);
			while (counts.after < 10) await L.sleep(20);
			stop = true;
			await Promise.all(streams);

			assert.ok(srv.running, 'the daemon survived');
			assert.ok(failed.length > 0, 'some uploads failed while the server was down');
			for (const r of failed) {
				assert.ok(r.status === 0 || r.status >= 500, `a failed upload answered ${r.status}: ${L.show(r)}`);
			}
			// every 201 is there, once, after the crash and restart
			const listed = new Map((await L.listAll(srv, 100)).map((r) => [r.id, r]));
			for (const id of ok) {
				assert.ok(listed.has(id), `201 ${id} is not listed`);
				const r = await L.api(srv, 'GET', `/v1/images/${id}`);
				assert.equal(r.status, 200, L.show(r));
			}
			assert.equal(new Set(ok).size, ok.length);
		} finally {
			await srv.kill();
		}
	});

	test('a schema newer than the binary: serve refuses to start and says why', { timeout: T }, async () => {
		const dataDir = await L.tmpDir();
		let srv = await L.startServer({ dataDir });
		await srv.stop();
		const schema = schemaOf(srv);
		assert.equal(psql(`SELECT version FROM ${schema}.pictor_schema`), '1');
		psql(`UPDATE ${schema}.pictor_schema SET version = 42`);
		await assert.rejects(L.startServer({ dataDir }), /schema version 42 is newer than this pictor knows \(1\)/);
		psql(`UPDATE ${schema}.pictor_schema SET version = 1`);
		srv = await L.startServer({ dataDir });
		await srv.stop();
	});

	test('two daemons on one database and one blob directory act as one service', { timeout: T }, async () => {
		const dirA = await L.tmpDir();
		const dirB = await L.tmpDir();
		const a = await L.startServer({ dataDir: dirA, args: ['--moderation', 'off'] });
		// B shares A's schema and A's originals
		const meta = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schemaOf(a)}`;
		fs.symlinkSync(path.join(dirA, 'blobs'), path.join(dirB, 'blobs'));
		const b = await L.startServer({ dataDir: dirB, args: ['--moderation', 'off'], env: { PICTOR_META: meta } });
		try {
			const up = await L.upload(a, L.input('rgb.jpg'), { filename: 'on-a.jpg' });
			assert.equal(up.status, 201, L.show(up));
			const id = up.record.id;

			// listed, described and delivered on B
			const listed = await L.listAll(b, 10);
			assert.ok(listed.some((r) => r.id === id), 'B lists the upload made on A');
			const rec = await L.api(b, 'GET', `/v1/images/${id}`);
			assert.equal(rec.status, 200, L.show(rec));
			assert.equal(rec.json.result.sha256, up.record.sha256);
			const img = await L.req(b, 'GET', `/img/${id}/public`);
			assert.equal(img.status, 200, L.show(img));
			assert.equal(L.probe(img.body).width, 320);

			// a writer on B while A writes: both commits land
			const [ua, ub] = await Promise.all([
				L.upload(a, L.input('rgb.jpg'), { filename: 'a2.jpg' }),
				L.upload(b, L.input('rgb.jpg'), { filename: 'b2.jpg' }),
			]);
			assert.equal(ua.status, 201, L.show(ua));
			assert.equal(ub.status, 201, L.show(ub));
			const ids = new Set((await L.listAll(a, 2)).map((r) => r.id));
			assert.ok(ids.has(ua.record.id) && ids.has(ub.record.id) && ids.has(id));

			// deleted on A: gone on B, records and delivery alike
			const del = await L.api(a, 'DELETE', `/v1/images/${id}`);
			assert.equal(del.status, 200, L.show(del));
			assert.equal((await L.api(b, 'GET', `/v1/images/${id}`)).status, 404);
			assert.ok(!(await L.listAll(b, 10)).some((r) => r.id === id));
			const gone = await L.req(b, 'GET', `/img/${id}/public`);
			assert.equal(gone.status, 404, `B still delivers a deleted image: ${L.show(gone)}`);
		} finally {
			await a.kill();
			await b.kill();
		}
	});
	test('PDQ across two daemons: a list imported on one blocks on the other; /similar sees uploads and deletes made on the other', { timeout: T }, async () => {
		const bridge = path.join(L.ROOT, 'tests', 'data', 'pdq', 'bridge-1-original.jpg');
		const dirA = await L.tmpDir();
		const dirB = await L.tmpDir();
		const a = await L.startServer({ dataDir: dirA, args: ['--moderation', 'off'] });
		const meta = `${PG}${PG.includes('?') ? '&' : '?'}options=-csearch_path%3D${schemaOf(a)}`;
		fs.symlinkSync(path.join(dirA, 'blobs'), path.join(dirB, 'blobs'));
		const b = await L.startServer({ dataDir: dirB, args: ['--moderation', 'off'], env: { PICTOR_META: meta } });
		const similar = async (s, id) => (await L.api(s, 'GET', `/v1/images/${id}/similar?distance=31`)).json.result.images.map((r) => r.id);
		try {
			const orig = await L.upload(a, bridge);
			assert.equal(orig.status, 201, L.show(orig));
			const copy = (await L.req(b, 'GET', `/cdn-cgi/image/width=500,format=jpeg/${orig.record.id}`)).body;
			const dup = await L.upload(b, copy);
			assert.equal(dup.status, 201, L.show(dup));
			// Each node sees the other's upload, at once and after its
			// in-memory index has caught up.
			for (let i = 0; i < 2; i++) {
				assert.deepEqual(await similar(b, dup.record.id), [orig.record.id]);
				assert.deepEqual(await similar(a, orig.record.id), [dup.record.id]);
				await L.sleep(1500);
			}
			const del = await L.api(a, 'DELETE', `/v1/images/${dup.record.id}`);
			assert.equal(del.status, 200, L.show(del));
			assert.deepEqual(await similar(b, orig.record.id), []);

			let res = await L.api(a, 'POST', '/v1/hashlists', { name: 'known', action: 'block' });
			assert.equal(res.status, 201, L.show(res));
			res = await L.req(a, 'POST', '/v1/hashlists/known/hashes', {
				auth: true, headers: { 'Content-Type': 'text/plain' }, body: `${orig.record.pdq}\n`,
			});
			assert.equal(res.status, 200, L.show(res));
			res = await L.upload(b, copy);
			assert.equal(res.status, 422, L.show(res));
			assert.equal(L.errCode(res), 'content_blocked');
		} finally {
			await a.kill();
			await b.kill();
		}
	});
});
