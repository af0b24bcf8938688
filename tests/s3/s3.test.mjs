// Originals in a real S3 implementation (Ceph RGW on loopback, started by
// tests/s3/run.sh, which sets PICTOR_E2E_BLOB, RGW_DIR and the AWS_*
// credentials): upload, delivery, dedup and delete on the bucket; fsck
// finding damage made in the bucket behind Pictor's back; and RGW stopped
// in the middle of a stream of uploads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import * as L from '../e2e/lib.mjs';

const T = 240000 * L.TIME_SCALE;
const RGW_DIR = process.env.RGW_DIR;
const skip = !L.S3 || !RGW_DIR ? 'needs tests/s3/run.sh (make s3)' : false;

// Requests to the bucket with curl's own SigV4 signer (independent of
// Pictor's), for damage Pictor did not make: the HTTP status.
const objectUrl = L.s3ObjectUrl;
const s3curl = (method, url, body = null) => L.s3curl(method, url, body).status;

function rgw(cmd) {
	const r = spawnSync(path.join(L.ROOT, 'tests', 's3', 'rgw.sh'), [cmd, RGW_DIR], { encoding: 'utf8' });
	assert.equal(r.status, 0, `rgw.sh ${cmd}: ${r.stderr}`);
}

// Run body(srv) on a fresh daemon; on failure print its log; stop it
// whatever happens (so a failed test never keeps the file's run alive).
async function withServer(opts, body) {
	const srv = await L.startServer(opts);
	try {
		return await body(srv);
	} catch (e) {
		console.error(`daemon log:\n${srv.logText()}`);
		throw e;
	} finally {
		await srv.kill();
	}
}

test('upload, deliver, dedup and delete with originals in the bucket', { skip, timeout: T }, () => withServer({ args: ['--moderation', 'off'] }, async (srv) => {
	const bytes = L.makePng(48, 32, 's3-twins');
	const a = await L.upload(srv, bytes, { filename: 'a.png' });
	const b = await L.upload(srv, bytes, { filename: 'b.png' });
	assert.equal(a.status, 201, L.show(a));
	assert.equal(b.status, 201, L.show(b));
	assert.equal(a.record.sha256, L.sha256(bytes));
	// the object is where the data directory would keep it, under the prefix
	assert.equal(s3curl('HEAD', objectUrl(srv.dataDir, a.record.sha256)), 200);
	assert.equal(L.walk(srv.dataDir).filter((f) => f.includes('/blobs/')).length, 0, 'nothing on local disk');

	const d = await L.req(srv, 'GET', `/img/${a.record.id}/w=24,f=png`);
	assert.equal(d.status, 200, L.show(d));
	assert.equal(L.probe(d.body).width, 24);
	const orig = await L.api(srv, 'GET', `/v1/images/${b.record.id}/blob`);
	assert.equal(orig.status, 200, L.show(orig));
	assert.ok(orig.body.equals(bytes));

	// one reference left: the object stays; none left: it goes
	assert.equal((await L.api(srv, 'DELETE', `/v1/images/${a.record.id}`)).status, 200);
	assert.equal(s3curl('HEAD', objectUrl(srv.dataDir, a.record.sha256)), 200);
	assert.equal((await L.req(srv, 'GET', `/img/${b.record.id}/w=20,f=png`)).status, 200);
	assert.equal((await L.api(srv, 'DELETE', `/v1/images/${b.record.id}`)).status, 200);
	assert.equal(s3curl('HEAD', objectUrl(srv.dataDir, a.record.sha256)), 404);
	assert.equal((await L.req(srv, 'GET', '/readyz')).status, 200);
	await srv.stop();
}));

test('fsck lists the bucket: a flipped byte, a missing original and an orphan by id; --repair', { skip, timeout: T }, async () => {
	const recs = [];
	const srv = await withServer({ args: ['--moderation', 'off'] }, async (s) => {
		for (let i = 0; i < 3; i++) {
			const up = await L.upload(s, L.makePng(20, 20, `s3-fsck-${i}`));
			assert.equal(up.status, 201, L.show(up));
			recs.push({ ...up.record, bytes: up.sent });
		}
		await s.stop();
		return s;
	});
	const [flipped, missing, fine] = recs;

	const clean = await L.runCli(['fsck', '--data', srv.dataDir]);
	assert.equal(clean.code, 0, clean.stdout + clean.stderr);
	assert.match(clean.stdout, /^fsck: records=3 originals=3 .*problems=0/m);

	const bad = Buffer.from(flipped.bytes);
	bad[bad.length >> 1] ^= 0x01;
	assert.equal(s3curl('PUT', objectUrl(srv.dataDir, flipped.sha256), bad), 200);
	assert.equal(s3curl('DELETE', objectUrl(srv.dataDir, missing.sha256)), 204);
	const stray = Buffer.from('bytes no record uses');
	const straySha = L.sha256(stray);
	assert.equal(s3curl('PUT', objectUrl(srv.dataDir, straySha), stray), 200);

	const found = await L.runCli(['fsck', '--data', srv.dataDir]);
	assert.equal(found.code, 1, found.stdout + found.stderr);
	const lines = found.stdout.split('\n');
	const has = (kind, id, sha) => lines.some((l) => l.startsWith(`${kind} id=${id} sha256=${sha} `));
	assert.ok(has('checksum_mismatch', flipped.id, flipped.sha256), found.stdout);
	assert.ok(has('missing_original', missing.id, missing.sha256), found.stdout);
	assert.ok(has('orphan', '-', straySha), found.stdout);
	assert.ok(!lines.some((l) => l.includes(fine.id)), found.stdout);

	const fixed = await L.runCli(['fsck', '--data', srv.dataDir, '--repair']);
	assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
	assert.equal(s3curl('HEAD', objectUrl(srv.dataDir, straySha)), 404, 'orphan not removed');
	await withServer({ dataDir: srv.dataDir, args: ['--moderation', 'off'] }, async (back) => {
		assert.equal((await L.req(back, 'GET', `/img/${flipped.id}/w=10`)).status, 410);
		assert.equal((await L.req(back, 'GET', `/img/${fine.id}/w=10`)).status, 200);
	});
});

test('RGW stopped mid-stream: every 201 durable, 503s write nothing, /readyz names the store, recovery', { skip, timeout: T }, () => withServer({ args: ['--moderation', 'off'] }, async (srv) => {
	const pre = await L.upload(srv, L.makePng(40, 40, 's3-fault-pre'));
	assert.equal(pre.status, 201, L.show(pre));
	// a rendered variant in the result cache survives the outage
	assert.equal((await L.req(srv, 'GET', `/img/${pre.record.id}/w=11,f=png`)).status, 200);

	const sent = new Map(); // id -> sha256 of every upload answered 201
	const refused = [];
	let n = 0;
	let phase = 'up'; // up -> down -> back
	const one = async () => {
		const bytes = L.makePng(24, 24, `s3-fault-${n++}`);
		const r = await L.upload(srv, bytes);
		if (r.status === 201) sent.set(r.record.id, L.sha256(bytes));
		else refused.push({ phase, status: r.status, code: L.errCode(r), text: L.show(r) });
		return r.status;
	};
	// two uploads in flight at a time, RGW stopped under them
	const stream = async (count) => {
		const lanes = [0, 1].map(async () => {
			for (let i = 0; i < count; i++) await one();
		});
		await Promise.all(lanes);
	};
	let streaming = true;
	const first = stream(8).finally(() => { streaming = false; });
	while (streaming && sent.size < 4) await L.sleep(20);
	rgw('pause');
	phase = 'down';
	await first;
	await stream(3); // all of these while it is down

	const ready = await L.req(srv, 'GET', '/readyz');
	assert.equal(ready.status, 503, L.show(ready));
	assert.equal(L.errCode(ready), 'storage_unavailable');
	assert.match(L.errMessage(ready), /^blob store: /);
	const render = await L.req(srv, 'GET', `/img/${pre.record.id}/w=12,f=png`);
	assert.equal(render.status, 503, L.show(render));
	assert.equal(L.errCode(render), 'blob_store_unavailable');
	const cached = await L.req(srv, 'GET', `/img/${pre.record.id}/w=11,f=png`);
	assert.equal(cached.status, 200, 'a cached variant needs no store');
	assert.ok(refused.filter((x) => x.phase === 'down').length >= 6, JSON.stringify(refused));
	for (const x of refused) {
		assert.equal(x.status, 503, x.text);
		assert.equal(x.code, 'blob_store_unavailable', x.text);
	}

	rgw('resume');
	phase = 'back';
	let ok = null;
	for (let i = 0; i < 300 && ok?.status !== 200; i++) {
		ok = await L.req(srv, 'GET', '/readyz');
		if (ok.status !== 200) await L.sleep(100);
	}
	assert.equal(ok.status, 200, L.show(ok));
	for (let i = 0; i < 3; i++) assert.equal(await one(), 201);
	assert.equal((await L.req(srv, 'GET', `/img/${pre.record.id}/w=12,f=png`)).status, 200);

	// every 201 is listed and its original is the bytes sent; nothing else
	// is listed (no record without its blob)
	sent.set(pre.record.id, pre.record.sha256);
	const listed = await L.listAll(srv);
	assert.deepEqual(listed.map((x) => x.id).sort(), [...sent.keys()].sort());
	for (const [id, sha] of sent) {
		const b = await L.api(srv, 'GET', `/v1/images/${id}/blob`);
		assert.equal(b.status, 200, L.show(b));
		assert.equal(L.sha256(b.body), sha);
	}
	await srv.stop();
	// and the offline check agrees: no record lacks its original (an
	// upload cut mid-PUT may leave an orphan object, which is harmless)
	const f = await L.runCli(['fsck', '--data', srv.dataDir]);
	const problems = f.stdout.split('\n').filter((l) => /^[a-z_]+ id=/.test(l) && !l.startsWith('orphan '));
	assert.deepEqual(problems, [], f.stdout + f.stderr);
	assert.match(f.stdout, new RegExp(`records=${sent.size} `));
}));
