// Operations: `pictor backup` while the daemon serves uploads and deletes,
// `pictor restore` and serving the result byte for byte, incremental
// backups, `pictor migrate` into another data directory (originals and
// LMDB; tests/s3/migrate.test.mjs moves into S3 + PostgreSQL), and
// `pictor fsck` finding and repairing damage by id.
//
// The backup's moment: it holds the records of one instant T (the LMDB
// snapshot) minus images deleted before their original was copied. So an
// image listed before the backup started and not deleted while it ran
// must be in it; an image deleted before it started must not; anything
// else may or may not be; and every image in it must be byte-identical
// to what was uploaded.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;

// Every daemon is killed after the file, so a failed test never leaves one
// running (which would keep the file's process alive).
const servers = [];
after(async () => {
	for (const s of servers) await s.kill();
});
async function start(opts) {
	const s = await L.startServer(opts);
	servers.push(s);
	return s;
}

function stats(out, what) {
	const m = out.match(new RegExp(`^${what}: (.*)$`, 'm'));
	assert.ok(m, `no "${what}:" line in:\n${out}`);
	return Object.fromEntries(m[1].split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
}

// backup, restore and migrate copy the embedded store (filesystem + LMDB);
// on S3 or PostgreSQL the operator uses the engines' own tools
// (docs/DEPLOY.md), and `pictor backup` says so.
const embeddedOnly = L.EXTERNAL && 'backup/restore/migrate copy the embedded store only (docs/CONFIG.md)';

test('backup refuses an external store and names the tool to use', { skip: !L.EXTERNAL && 'embedded store', timeout: T }, async () => {
	const dir = await L.tmpDir();
	const b = await L.runCli(['backup', '--data', dir, '--to', await L.tmpDir('pictor-backup-')]);
	assert.equal(b.code, 2, b.stdout + b.stderr);
	assert.match(b.stderr, L.PG ? /pg_dump/ : /versioning/);
});

test('backup during uploads and deletes; restore serves every image byte for byte', { skip: embeddedOnly, timeout: T }, async () => {
	const srv = await start({ args: ['--moderation', 'off'] });
	const dest = await L.tmpDir('pictor-backup-');
	const sent = new Map(); // id -> bytes
	let seed = 0;
	const up = async () => {
		const bytes = L.makePng(32, 24, `backup-${seed++}`);
		const r = await L.upload(srv, bytes);
		assert.equal(r.status, 201, L.show(r));
		sent.set(r.record.id, bytes);
		return r.record.id;
	};
	const del = async (id) => {
		const r = await L.api(srv, 'DELETE', `/v1/images/${id}`);
		assert.equal(r.status, 200, L.show(r));
	};
	for (let i = 0; i < 16; i++) await up();
	// the same bytes twice: one original, two records
	const twin = (await L.upload(srv, sent.values().next().value)).record.id;
	sent.set(twin, sent.values().next().value);
	const deletedBefore = [...sent.keys()][1];
	await del(deletedBefore);
	const listed = (await L.listAll(srv)).map((r) => r.id);
	assert.equal(listed.length, 16);

	// A stream of uploads and deletes of listed images, running before,
	// during and after the backup.
	const victims = listed.filter((id) => id !== twin).slice(0, 8);
	const deleteStarted = new Set();
	let ops = 0;
	let stop = false;
	const stream = (async () => {
		for (let i = 0; !stop; i++) {
			await up();
			if (i < victims.length) {
				deleteStarted.add(victims[i]);
				await del(victims[i]);
			}
			ops++;
		}
	})();
	while (ops < 2) await L.sleep(5);
	const b = await L.runCli(['backup', '--data', srv.dataDir, '--to', dest]);
	stop = true;
	await stream;
	assert.equal(b.code, 0, `backup failed: ${b.stderr}`);
	const st = stats(b.stdout, 'backup');
	assert.ok(st.copied >= 1 && st.records >= 1, b.stdout);

	// Restore into a new directory and serve it.
	const newDir = path.join(await L.tmpDir('pictor-restore-'), 'data');
	const r = await L.runCli(['restore', '--from', dest, '--data', newDir]);
	assert.equal(r.code, 0, `restore failed: ${r.stdout}${r.stderr}`);
	assert.equal(stats(r.stdout, 'restore').records, st.records);
	assert.match(r.stdout, /^fsck: .*problems=0/m);
	assert.deepEqual(JSON.parse(fs.readFileSync(path.join(newDir, 'secrets.json'))),
		JSON.parse(fs.readFileSync(path.join(srv.dataDir, 'secrets.json'))));
	await srv.stop();

	const back = await start({ dataDir: newDir, args: ['--moderation', 'off'] });
	const restored = await L.listAll(back);
	const ids = new Set(restored.map((x) => x.id));
	assert.equal(ids.size, st.records);
	assert.ok(!ids.has(deletedBefore), 'an image deleted before the backup came back');
	const lost = listed.filter((id) => !deleteStarted.has(id) && !ids.has(id));
	assert.deepEqual(lost, [], 'images listed before the backup and never deleted are missing');
	for (const rec of restored) {
		const want = sent.get(rec.id);
		assert.ok(want, `${rec.id}: restored an image that was never uploaded`);
		const got = await L.api(back, 'GET', `/v1/images/${rec.id}/blob`);
		assert.equal(got.status, 200, L.show(got));
		assert.ok(got.body.equals(want), `${rec.id}: restored original differs`);
	}
	// delivery works with the restored signing keys too
	const one = restored[0].id;
	const v = await L.req(back, 'GET', `/img/${one}/w=16`);
	assert.equal(v.status, 200, L.show(v));
	await back.stop();
});

test('incremental backup copies only new originals', { skip: embeddedOnly, timeout: T }, async () => {
	const srv = await start({ args: ['--moderation', 'off'] });
	const dest = await L.tmpDir('pictor-backup-');
	const ids = [];
	const sentBytes = new Map();
	for (let i = 0; i < 4; i++) {
		const bytes = L.makePng(20, 20, `inc-${i}`);
		ids.push((await L.upload(srv, bytes)).record.id);
		sentBytes.set(ids[i], bytes);
	}
	const first = await L.runCli(['backup', '--data', srv.dataDir, '--to', dest]);
	assert.equal(first.code, 0, first.stderr);
	assert.deepEqual([stats(first.stdout, 'backup').copied, stats(first.stdout, 'backup').skipped], [4, 0]);

	const fresh = [L.makePng(20, 20, 'inc-new-1'), L.makePng(20, 20, 'inc-new-2')];
	for (const f of fresh) assert.equal((await L.upload(srv, f)).status, 201);
	const gone = (await L.api(srv, 'GET', `/v1/images/${ids[0]}`)).json.result.sha256;
	await L.api(srv, 'DELETE', `/v1/images/${ids[0]}`);
	const second = await L.runCli(['backup', '--data', srv.dataDir, '--to', dest]);
	assert.equal(second.code, 0, second.stderr);
	const st = stats(second.stdout, 'backup');
	assert.equal(st.copied, 2);
	assert.equal(st.copied_bytes, fresh[0].length + fresh[1].length);
	assert.equal(st.skipped, 3);
	assert.equal(st.pruned, 1);
	assert.equal(st.records, 5);
	assert.ok(!fs.existsSync(L.blobFile(dest, gone)), 'the deleted image\'s original is still in the backup');
	await srv.stop();

	// a backup of something that is not a data directory fails
	const bad = await L.runCli(['backup', '--data', dest + '/nope', '--to', dest]);
	assert.notEqual(bad.code, 0);

	// the same installation moved into another data directory: complete,
	// then a second run that finds everything there
	const to = path.join(await L.tmpDir('pictor-migrate-'), 'data');
	const args = ['migrate', '--data', srv.dataDir, '--to-blob', 'file', '--to-meta', 'lmdb', '--to-data', to, '--json'];
	assert.equal((await L.runCli(args.slice(0, 5))).code, 2, 'no --to-meta is a usage error');
	assert.equal((await L.runCli([...args.slice(0, 7), '--to-data', srv.dataDir])).code, 2, 'the source is no target');
	let m = await L.runCli(args);
	assert.equal(m.code, 0, m.stderr);
	let js = JSON.parse(m.stdout);
	assert.equal(js.complete, true);
	assert.deepEqual([js.originals.total, js.originals.copied, js.originals.present], [5, 5, 0]);
	assert.equal(js.keys.copied, js.keys.total);
	m = await L.runCli(args);
	js = JSON.parse(m.stdout);
	assert.deepEqual([m.code, js.originals.copied, js.originals.present, js.keys.copied, js.keys.present],
		[0, 0, 5, 0, js.keys.total], m.stdout);
	const moved = await start({ dataDir: to, args: ['--moderation', 'off'] });
	const before = new Map();
	for (const id of ids.slice(1)) before.set(id, sentBytes.get(id));
	const recs = await L.listAll(moved);
	assert.equal(recs.length, 5);
	for (const rec of recs) {
		const got = await L.api(moved, 'GET', `/v1/images/${rec.id}/blob`);
		assert.equal(L.sha256(got.body), rec.sha256, `${rec.id}: original differs`);
	}
	for (const [id, bytes] of before) assert.ok(recs.some((x) => x.id === id && x.sha256 === L.sha256(bytes)));
	// a target that has moved on: its changed record is a conflict, left alone
	const changed = await L.api(moved, 'PATCH', `/v1/images/${ids[1]}`, { metadata: { moved: true } });
	assert.equal(changed.status, 200, L.show(changed));
	await moved.stop();
	m = await L.runCli(args);
	assert.equal(m.code, 1, m.stdout + m.stderr);
	assert.ok(JSON.parse(m.stdout).conflicts >= 1, m.stdout);
	assert.match(m.stderr, new RegExp(`^migrate: conflict img/${ids[1]}`, 'm'));
});


test('fsck finds a flipped byte, a missing original, an orphan and a wrong count by id; --repair fixes them', { timeout: T }, async () => {
	const srv = await start({ args: ['--moderation', 'off'] });
	const recs = [];
	for (let i = 0; i < 4; i++) recs.push((await L.upload(srv, L.makePng(20, 20, `fsck-${i}`))).record);
	const [flipped, missing, counted, fine] = recs;

	// fsck refuses to run beside the daemon
	const busy = await L.runCli(['fsck', '--data', srv.dataDir]);
	assert.equal(busy.code, 4, busy.stdout + busy.stderr);
	assert.match(busy.stderr, /in use/);
	await srv.stop();

	const clean = await L.runCli(['fsck', '--data', srv.dataDir]);
	assert.equal(clean.code, 0, clean.stdout + clean.stderr);
	assert.match(clean.stdout, /^fsck: records=4 originals=4 .*problems=0/m);

	// damage made behind Pictor's back, in whichever stores it uses
	const bytes = L.blobGet(srv.dataDir, flipped.sha256);
	bytes[bytes.length >> 1] ^= 0x01;
	L.blobPut(srv.dataDir, flipped.sha256, bytes);
	L.blobDelete(srv.dataDir, missing.sha256);
	const stray = Buffer.from('not an image anyone uploaded');
	const straySha = L.sha256(stray);
	L.blobPut(srv.dataDir, straySha, stray);
	L.metaPut(srv.dataDir, `blobref/${counted.sha256}`, 3);

	const found = await L.runCli(['fsck', '--data', srv.dataDir]);
	assert.equal(found.code, 1, found.stdout + found.stderr);
	const lines = found.stdout.split('\n');
	const has = (kind, id, sha) => lines.some((l) => l.startsWith(`${kind} id=${id} sha256=${sha} `));
	assert.ok(has('checksum_mismatch', flipped.id, flipped.sha256), found.stdout);
	assert.ok(has('missing_original', missing.id, missing.sha256), found.stdout);
	assert.ok(has('orphan', '-', straySha), found.stdout);
	assert.ok(has('wrong_refcount', counted.id, counted.sha256), found.stdout);
	assert.ok(!lines.some((l) => l.includes(fine.id)), found.stdout);
	assert.match(found.stdout, /problems=4 repaired=0/);

	const fixed = await L.runCli(['fsck', '--data', srv.dataDir, '--repair']);
	assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
	assert.match(fixed.stdout, /problems=4 repaired=4/);
	assert.equal(L.blobGet(srv.dataDir, straySha), null, 'orphan not removed');

	const again = await L.runCli(['fsck', '--data', srv.dataDir]);
	assert.equal(again.code, 0, again.stdout + again.stderr);
	assert.match(again.stdout, /problems=0 repaired=0 corrupt=2/);

	// the damaged images are never served again, and admins see them
	const back = await start({ dataDir: srv.dataDir, args: ['--moderation', 'off'] });
	for (const rec of [flipped, missing]) {
		const d = await L.req(back, 'GET', `/img/${rec.id}/w=10`);
		assert.equal(d.status, 410, L.show(d));
		assert.equal(L.errCode(d), 'corrupt');
		const b = await L.api(back, 'GET', `/v1/images/${rec.id}/blob`);
		assert.equal(b.status, 410, L.show(b));
		const g = await L.api(back, 'GET', `/v1/images/${rec.id}`);
		assert.equal(g.json.result.status, 'corrupt', L.show(g));
	}
	const listedStatus = new Map((await L.listAll(back)).map((x) => [x.id, x.status]));
	assert.equal(listedStatus.get(flipped.id), 'corrupt');
	assert.equal((await L.req(back, 'GET', `/img/${counted.id}/w=10`)).status, 200);
	await back.stop();
});

// One value of a Prometheus exposition (the sum over series matching `labels`).
function metric(text, name, labels = '') {
	let sum = 0;
	for (const line of text.split('\n')) {
		if (line.startsWith(name + (labels ? `{${labels}}` : ' ')) || (!labels && line.startsWith(name + '{'))) {
			sum += Number(line.slice(line.lastIndexOf(' ') + 1));
		}
	}
	return sum;
}

test('the background scrub finds a flipped byte within one pass, under its rate', { timeout: T }, async () => {
	const rate = 400000;
	const t0 = performance.now();
	const srv = await start({ args: ['--moderation', 'off', '--scrub-rate', String(rate), '--scrub-interval', '1s'] });
	const recs = [];
	for (let i = 0; i < 4; i++) recs.push((await L.upload(srv, L.makePng(160, 120, `scrub-${i}`))).record);
	const scrape = async () => (await L.req(srv, 'GET', '/metrics')).text;
	// two more passes: at least one whole pass over all four
	let m = await scrape();
	const p0 = metric(m, 'pictor_scrub_passes_total');
	while (metric(m, 'pictor_scrub_passes_total') < p0 + 2) {
		await L.sleep(100);
		m = await scrape();
	}
	assert.equal(metric(m, 'pictor_scrub_findings_total'), 0, 'findings in an undamaged store');
	assert.ok(metric(m, 'pictor_scrub_originals_total') >= 4, m);

	const victim = recs[2];
	const bytes = L.blobGet(srv.dataDir, victim.sha256);
	bytes[100] ^= 0x40;
	L.blobPut(srv.dataDir, victim.sha256, bytes);
	const passAtFlip = metric(m, 'pictor_scrub_passes_total');
	while (metric(m, 'pictor_scrub_findings_total', 'finding="checksum_mismatch"') < 1 &&
		metric(m, 'pictor_scrub_passes_total') < passAtFlip + 2) {
		await L.sleep(100);
		m = await scrape();
	}
	assert.ok(metric(m, 'pictor_scrub_findings_total', 'finding="checksum_mismatch"') >= 1,
		'not found within one full pass after the damage');
	assert.equal(metric(m, 'pictor_scrub_findings_total'),
		metric(m, 'pictor_scrub_findings_total', 'finding="checksum_mismatch"'), 'other findings');
	const line = srv.logs.find((l) => l.finding === 'checksum_mismatch');
	assert.ok(line, 'no log line for the finding');
	assert.equal(line.id, victim.id);
	assert.equal(line.sha256, victim.sha256);
	// never faster than the rate: bytes read <= rate x time since start + one original
	const elapsed = (performance.now() - t0) / 1000;
	const read = metric(m, 'pictor_scrub_read_bytes_total');
	const largest = Math.max(...recs.map((r) => r.bytes));
	assert.ok(read <= rate * elapsed + largest, `read ${read} bytes in ${elapsed.toFixed(1)} s at ${rate} B/s`);
	assert.ok(m.includes('pictor_scrub_pass_progress_ratio'), 'no progress gauge');
	await srv.stop();
});
