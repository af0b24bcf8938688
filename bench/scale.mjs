// bench/scale.mjs - the embedded defaults (files + LMDB) against S3 +
// PostgreSQL in one run: two daemons side by side, the same requests, the
// ratio of each pair, and where the time of each request goes.
//
// bench/scale.sh starts the Ceph RGW and the PostgreSQL this needs and
// sets RGW_ENDPOINT, RGW_BUCKET, AWS_* and PICTOR_TEST_PG.
//
// Per daemon, with moderation off (the model would dominate both):
//   upload    BENCH_N uploads of distinct BENCH_SIZE x BENCH_SIZE noise PNGs
//             (incompressible, so every byte goes to the blob store)
//   uncached  /img/ID/w=64 once per uploaded image: every request a result
//             cache miss (record read, original read, render, encode)
//   cached    /img/ID/w=64 of one image BENCH_HITS (default 10 x BENCH_N)
//             times: result cache hits (a hit takes well under a
//             millisecond, so fewer would time little but the client)
// and last, the embedded daemon stopped, `pictor migrate` of its data
// directory into S3 + PostgreSQL with one copying thread and with four.
// BENCH_PG_ARGS: more flags for the S3 + PostgreSQL daemon only, e.g.
// "--record-cache 0" for the cost of reading every record from the store.
// BENCH_CONC (default 4) at once, in BENCH_ROUNDS (default 3) rounds that
// alternate between the daemons. Then, per request, the mean milliseconds
// from the daemon's own metrics: end to end (request duration), waiting
// for a worker (queue wait) and on the worker (upload or render duration),
// so the difference between the two daemons can be placed.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import * as L from '../tests/e2e/lib.mjs';

const N = Number(process.env.BENCH_N || 120);
const CONC = Number(process.env.BENCH_CONC || 4);
const SIZE = Number(process.env.BENCH_SIZE || 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const HITS = Number(process.env.BENCH_HITS || 10 * N);
const PG = process.env.PICTOR_TEST_PG;
if (!PG || !process.env.RGW_ENDPOINT) {
	console.error('bench/scale: run bench/scale.sh (needs RGW and PostgreSQL)');
	process.exit(2);
}

async function rate(n, fn) {
	let next = 0;
	const t0 = performance.now();
	await Promise.all(Array.from({ length: CONC }, async () => {
		while (next < n) {
			const i = next++;
			const r = await fn(i);
			if (r.status >= 300) throw new Error(`status ${r.status}: ${L.show(r)}`);
		}
	}));
	return n / ((performance.now() - t0) / 1000);
}

// Sums and counts of the duration histograms, by series.
async function scrape(srv) {
	const m = await L.req(srv, 'GET', '/metrics');
	const out = {};
	for (const line of m.text.split('\n')) {
		const x = line.match(/^(pictor_[a-z_]+_seconds)_(sum|count)(\{[^}]*\})? ([0-9.e+-]+)$/);
		if (!x) continue;
		const k = x[1] + (x[3] || '');
		out[k] ??= { sum: 0, count: 0 };
		out[k][x[2]] = Number(x[4]);
	}
	return out;
}

// Mean ms between two scrapes of the series whose key matches re.
function meanMs(a, b, re) {
	let sum = 0;
	let count = 0;
	for (const [k, v] of Object.entries(b)) {
		if (!re.test(k)) continue;
		sum += v.sum - (a[k]?.sum ?? 0);
		count += v.count - (a[k]?.count ?? 0);
	}
	return count ? (sum / count) * 1000 : NaN;
}

const phases = {
	upload: { route: /request_duration_seconds\{route="upload",status="2/, wait: /queue_wait_seconds\{class="upload"/, work: /^pictor_upload_duration_seconds/ },
	uncached: { route: /request_duration_seconds\{route="delivery",status="2/, wait: /queue_wait_seconds\{class="render"/, work: /^pictor_render_duration_seconds/ },
	cached: { route: /request_duration_seconds\{route="delivery",status="2/, wait: /queue_wait_seconds\{class="render"/, work: /^pictor_render_duration_seconds/ },
};

// Per side: the images to upload, and the ids uploaded so far.
function side(srv, tag) {
	return {
		srv, tag, ids: [], next: 0,
		imgs: Array.from({ length: Math.ceil(N / ROUNDS) * ROUNDS }, () => L.encodePng(SIZE, SIZE, crypto.randomBytes(SIZE * SIZE * 3))),
	};
}

// One round of kind k on side s: n requests; requests/s.
function round(k, s, n) {
	if (k === 'upload') {
		return rate(n, async () => {
			const i = s.next++;
			const r = await L.upload(s.srv, s.imgs[i], { filename: `${s.tag}${i}.png` });
			if (r.status === 201) s.ids.push(r.record.id);
			return r;
		});
	}
	if (k === 'uncached') {
		// every uploaded image once: a result-cache miss each
		const start = s.rendered ?? 0;
		s.rendered = start + n;
		return rate(n, (i) => L.req(s.srv, 'GET', `/img/${s.ids[(start + i) % s.ids.length]}/w=64`));
	}
	return rate(n, () => L.req(s.srv, 'GET', `/img/${s.ids[0]}/w=64`));
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

// Each kind in ROUNDS rounds that alternate between the two daemons (the
// order swapped every round), so a change in the machine's load between
// rounds falls on both sides alike. Requests/s: the median round; the
// per-request times: over all rounds, from each daemon's metrics.
async function measure(sides) {
	const out = sides.map(() => ({}));
	const per = Math.ceil(N / ROUNDS);
	for (const k of ['upload', 'uncached', 'cached']) {
		const before = await Promise.all(sides.map((s) => scrape(s.srv)));
		const rps = sides.map(() => []);
		for (let r = 0; r < ROUNDS; r++) {
			const order = r % 2 ? [1, 0] : [0, 1];
			for (const j of order) rps[j].push(await round(k, sides[j], k === 'cached' ? Math.ceil(HITS / ROUNDS) : per));
		}
		for (let j = 0; j < sides.length; j++) {
			const b = await scrape(sides[j].srv);
			const p = phases[k];
			out[j][k] = {
				rps: median(rps[j]),
				total: meanMs(before[j], b, p.route), wait: meanMs(before[j], b, p.wait), work: meanMs(before[j], b, p.work),
			};
		}
	}
	return out;
}

const args = ['--moderation', 'off', '--queue-per-client', '1024',
	'--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1'];
const emb = await L.startServer({ args: [...args, '--blob', 'file', '--meta', 'lmdb'] });
const dir = await L.tmpDir();
const schema = 'bench_scale_' + process.pid;
spawnSync('psql', ['-X', '-q', '-d', PG, '-c', `CREATE SCHEMA ${schema}`]);
const blob = `s3://${process.env.RGW_BUCKET}/bench-${process.pid}?endpoint=${process.env.RGW_ENDPOINT}&path_style=1`;
const dist = await L.startServer({
	dataDir: dir,
	args: [...args, '--blob', blob, '--meta', `${PG}?options=-csearch_path%3D${schema}`,
		...(process.env.BENCH_PG_ARGS || '').split(' ').filter(Boolean)],
});
try {
	const [a, b] = await measure([side(emb, 'e'), side(dist, 's')]);
	const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-').padStart(7);
	console.log(`bench/scale: ${N} uploads and uncached, ${HITS} cached requests in ${ROUNDS} alternating rounds, ${CONC} at once, ${SIZE}x${SIZE} noise PNGs ` +
		`(~${(SIZE * SIZE * 3 / 1024).toFixed(0)} KB each)`);
	console.log('requests/s  embedded  s3+pg  s3+pg/embedded');
	for (const k of Object.keys(a)) {
		console.log(`${k.padEnd(10)}  ${a[k].rps.toFixed(1).padStart(8)}  ${b[k].rps.toFixed(1).padStart(5)}  ${(b[k].rps / a[k].rps).toFixed(2)}`);
	}
	console.log('\nwhere the time goes, mean ms per request (daemon metrics):');
	console.log('            ------ embedded ------    ------- s3+pg --------');
	console.log('kind          total    wait  worker      total    wait  worker');
	for (const k of Object.keys(a)) {
		console.log(`${k.padEnd(10)} ${f(a[k].total)} ${f(a[k].wait)} ${f(a[k].work)}    ${f(b[k].total)} ${f(b[k].wait)} ${f(b[k].work)}`);
	}
	console.log('(total: arrival to response sent; wait: queued for a worker; worker: upload or render on the worker.\n' +
		' cached hits are answered without a worker, so their worker column stays empty)');

	// Moving up: the embedded daemon's data directory into a fresh prefix
	// and schema with pictor migrate (the daemon stopped first).
	await emb.stop();
	const mschema = 'bench_migrate_' + process.pid;
	spawnSync('psql', ['-X', '-q', '-d', PG, '-c', `CREATE SCHEMA ${mschema}_1; CREATE SCHEMA ${mschema}_4`]);
	const env = {};
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PICTOR_')) env[k] = v;
	for (const jobs of [1, 4]) {
		const t0 = performance.now();
		const m = spawnSync(L.BIN, ['migrate', '--data', emb.dataDir, '--json', '--jobs', String(jobs),
			'--to-blob', blob.replace(`bench-${process.pid}`, `bench-migrate-${jobs}-${process.pid}`),
			'--to-meta', `${PG}?options=-csearch_path%3D${mschema}_${jobs}`],
		{ env: { ...env, PICTOR_BLOB: 'file' }, encoding: 'utf8', input: '' });
		const wall = (performance.now() - t0) / 1000;
		let j = null;
		try { j = JSON.parse(m.stdout); } catch { /* shown below */ }
		if (!j || !j.complete) {
			console.log(`\npictor migrate --jobs ${jobs} failed (exit ${m.status}): ${m.stderr}${m.stdout}`);
			continue;
		}
		console.log(`\npictor migrate --jobs ${jobs} of the embedded data directory into S3 + PostgreSQL: ` +
			`${j.originals.total} originals (${(j.originals.bytes / 1048576).toFixed(1)} MB) and ${j.keys.total} keys ` +
			`in ${j.seconds.toFixed(2)} s (${wall.toFixed(2)} s with start-up): ` +
			`${(j.originals.total / j.seconds).toFixed(1)} originals/s, ${(j.originals.bytes / 1048576 / j.seconds).toFixed(1)} MB/s`);
	}
	spawnSync('psql', ['-X', '-q', '-d', PG, '-c', `DROP SCHEMA IF EXISTS ${mschema}_1 CASCADE; DROP SCHEMA IF EXISTS ${mschema}_4 CASCADE`]);
} finally {
	await emb.kill();
	await dist.kill();
	spawnSync('psql', ['-X', '-q', '-d', PG, '-c', `DROP SCHEMA ${schema} CASCADE`]);
}
