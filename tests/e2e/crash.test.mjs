// Crash safety: SIGKILL the server in the middle of a stream of uploads,
// restart it on the same data directory, and check that every upload that
// got 201 is there byte for byte, and that nothing else is left behind.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
let srv;
after(async () => {
	await srv?.kill();
});

// Distinct payloads: the accepted test inputs, small corpus photos when the
// corpus is there, then generated PNGs of varying size.
function payloads() {
	const files = ['rgb.jpg', 'progressive.jpg', 'png16.png', 'gray-alpha.png', 'interlaced.png', 'lossy.webp',
		'image.avif', 'exif-gps.jpg', 'animated-12-frames.gif', 'animated.webp', 'image.tif']
		.map((f) => path.join(L.INPUTS, f));
	for (const f of ['FreshFlower.jpg', 'Spring.png', 'rocket.jpg', 'camera.png', 'Aqua.jpg', 'chelsea.png']) {
		const p = path.join(L.CORPUS, f);
		if (fs.existsSync(p)) files.push(p);
	}
	const list = files.map((f) => ({ bytes: fs.readFileSync(f), name: path.basename(f) }));
	let i = 0;
	return (n) => {
		if (n < list.length) return list[n];
		i++;
		return { bytes: L.makePng(32 + (i % 7) * 16, 24 + (i % 5) * 16, `crash-${i}`), name: `gen-${i}.png` };
	};
}

function blobFiles(dataDir) {
	return L.walk(path.join(dataDir, 'blobs'));
}

async function verifyStore(server, sent, acked) {
	const list = await L.listAll(server, 50);
	const byId = new Map(list.map((r) => [r.id, r]));
	assert.equal(byId.size, list.length, 'duplicate ids in the listing');
	const missing = [...acked].filter((id) => !byId.has(id));
	assert.deepEqual(missing, [], `acknowledged uploads lost: ${missing.join(', ')}`);
	// acknowledged ones and any in-flight ones that made it: byte-identical
	for (const r of list) {
		const bytes = sent.get(r.id);
		if (!bytes) continue;
		assert.equal(r.sha256, L.sha256(bytes), `${r.id}: record sha256`);
		assert.equal(r.bytes, bytes.length, `${r.id}: record bytes`);
		const b = await L.api(server, 'GET', `/v1/images/${encodeURIComponent(r.id)}/blob`);
		assert.equal(b.status, 200, `${r.id}: ${L.show(b)}`);
		assert.ok(b.body.equals(bytes), `${r.id}: blob differs from the uploaded bytes`);
	}
	const shas = new Set(list.map((r) => r.sha256));
	if (L.S3) {
		// A bucket may be shared by several nodes, so start-up sweeps no
		// bucket (fsck --repair does): an upload cut by the kill after its
		// original was written may leave that object, and nothing else.
		const unacked = new Set([...sent].filter(([id]) => !acked.has(id)).map(([, b]) => L.sha256(b)));
		const strays = L.blobNames(server.dataDir).filter((n) => !shas.has(n) && !unacked.has(n));
		assert.deepEqual(strays, [], 'objects in the bucket that no record or cut upload explains');
		return list;
	}
	// no orphans: every blob file is some record's sha256, and holds it
	const orphans = [];
	for (const f of blobFiles(server.dataDir)) {
		const name = path.basename(f);
		if (!shas.has(name)) {
			orphans.push(f);
			continue;
		}
		assert.match(f, /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/, `blob layout: ${f}`);
		assert.equal(f.slice(0, 2) + f.slice(3, 5), name.slice(0, 4), `blob ${f} in the wrong folder`);
		const data = fs.readFileSync(path.join(server.dataDir, 'blobs', f));
		assert.equal(L.sha256(data), name, `blob ${f} is corrupt`);
	}
	assert.deepEqual(orphans, [], 'files under blobs/ that no record references');
	assert.deepEqual(L.walk(path.join(server.dataDir, 'tmp')), [], 'stray files in tmp/');
	return list;
}

test('SIGKILL during uploads loses no acknowledged upload and leaves no orphan', { timeout: T }, async (t) => {
	srv = await L.startServer();
	const dataDir = srv.dataDir;
	const next = payloads();
	const sent = new Map(); // id -> bytes
	const acked = new Set();
	const failed = [];
	let n = 0;
	let stop = false;

	const worker = async (w) => {
		while (!stop) {
			const k = n++;
			const p = next(k);
			const id = `crash-${String(k).padStart(4, '0')}`;
			sent.set(id, p.bytes);
			try {
				const r = await L.upload(srv, p.bytes, { id, filename: p.name, raw: k % 2 === 1, timeout: 30000 });
				if (r.status === 201) acked.add(id);
				else if (!stop) failed.push(L.show(r));
			} catch {
				// connection cut by the kill
			}
		}
	};
	const workers = [0, 1, 2].map(worker);
	const t0 = Date.now();
	while (acked.size < 5 && Date.now() - t0 < 30000 * L.TIME_SCALE) await L.sleep(20);
	await L.sleep(700 + Math.floor(Math.random() * 600));
	const beforeKill = acked.size;
	await srv.kill();
	stop = true;
	await Promise.all(workers);
	assert.deepEqual(failed, [], 'uploads refused before the kill');
	assert.ok(beforeKill >= 5, `only ${beforeKill} uploads acknowledged before the kill`);

	t.diagnostic(`${acked.size} uploads acknowledged, ${sent.size - acked.size} cut by the kill (${beforeKill} before it)`);
	srv = await L.startServer({ dataDir });
	const list = await verifyStore(srv, sent, acked);
	t.diagnostic(`${list.length} records after restart`);
	assert.ok(list.length >= acked.size);

	// the restarted server takes new uploads and a second crash is survived too
	const more = new Set(acked);
	for (let i = 0; i < 5; i++) {
		const id = `after-${i}`;
		const bytes = L.makePng(20, 20, `after-${i}`);
		sent.set(id, bytes);
		const r = await L.upload(srv, bytes, { id });
		assert.equal(r.status, 201, L.show(r));
		more.add(id);
	}
	await srv.kill();
	srv = await L.startServer({ dataDir });
	await verifyStore(srv, sent, more);
	assert.equal(await srv.stop(), 0, 'clean exit on SIGTERM');
});

// The data directory's own sweep: with originals in a bucket that several
// nodes may share, start-up sweeps nothing (tests/s3 covers fsck --repair).
test('stray temp files and orphan blobs are removed at start-up', {
	timeout: T,
	skip: L.S3 && 'the start-up sweep is the data directory\'s; a bucket is swept by fsck --repair (tests/s3)',
}, async () => {
	await srv?.kill();
	srv = await L.startServer();
	const dataDir = srv.dataDir;
	const up = await L.upload(srv, L.makePng(40, 40, 'keep-me'));
	assert.equal(up.status, 201);
	assert.equal(await srv.stop(), 0);
	// plant an orphan blob (valid layout, no record) and a temp file
	const orphan = Buffer.from('orphan bytes');
	const sha = L.sha256(orphan);
	const dir = path.join(dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4));
	fs.mkdirSync(dir, { recursive: true });
	fs.writeFileSync(path.join(dir, sha), orphan);
	fs.mkdirSync(path.join(dataDir, 'tmp'), { recursive: true });
	fs.writeFileSync(path.join(dataDir, 'tmp', 'upload-123.part'), 'partial');
	srv = await L.startServer({ dataDir });
	const list = await verifyStore(srv, new Map([[up.record.id, up.sent]]), new Set([up.record.id]));
	assert.equal(list.length, 1);
});
