// bench/meta.mjs - what the metadata store costs: the same requests against
// two daemons in one run, one on --meta lmdb and one on --meta postgres://
// (PICTOR_TEST_PG, which bench/meta.sh sets up), and the ratio of each pair.
//
// Per daemon: uploads of small PNGs (record + indexes + blob reference in
// one write transaction), record reads (GET /v1/images/{id}), list pages of
// 50, and deliveries of a variant already in the result cache (a record
// read before the cache hit). Moderation is off, so the model does not
// dominate. BENCH_N (default 300) sets the request count of each kind,
// BENCH_CONC (default 4) how many run at once. Prints requests/s.

import * as L from '../tests/e2e/lib.mjs';

const N = Number(process.env.BENCH_N || 300);
const CONC = Number(process.env.BENCH_CONC || 4);
const PG = process.env.PICTOR_TEST_PG;
if (!PG) {
	console.error('bench/meta: PICTOR_TEST_PG is unset (run bench/meta.sh)');
	process.exit(2);
}

// Run fn(i) for i in [0, n) with CONC at once; requests per second.
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

async function measure(srv) {
	const out = {};
	const ids = [];
	out.upload = await rate(N, async (i) => {
		const r = await L.upload(srv, L.encodePng(64, 64, Buffer.alloc(64 * 64 * 3, i % 251)), { filename: `b${i}.png` });
		if (r.status === 201) ids.push(r.record.id);
		return r;
	});
	out.record = await rate(N, (i) => L.api(srv, 'GET', `/v1/images/${ids[i % ids.length]}`));
	out.list = await rate(N, () => L.api(srv, 'GET', '/v1/images?per_page=50'));
	await L.req(srv, 'GET', `/img/${ids[0]}/public`);
	out.cached = await rate(N, () => L.req(srv, 'GET', `/img/${ids[0]}/public`));
	return out;
}

// no per-client limits: one client is the load generator
const args = ['--moderation', 'off', '--queue-per-client', '1024',
	'--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1'];
const lm = await L.startServer({ args: [...args, '--meta', 'lmdb'] });
const dir = await L.tmpDir();
const schema = 'bench_' + process.pid;
const { spawnSync } = await import('node:child_process');
spawnSync('psql', ['-X', '-q', '-d', PG, '-c', `CREATE SCHEMA ${schema}`]);
const pg = await L.startServer({ dataDir: dir, args: [...args, '--meta', `${PG}?options=-csearch_path%3D${schema}`] });
try {
	const a = await measure(lm);
	const b = await measure(pg);
	console.log(`bench/meta: ${N} requests of each kind, ${CONC} at once (requests/s)`);
	console.log('kind      lmdb      postgres  postgres/lmdb');
	for (const k of Object.keys(a)) {
		console.log(`${k.padEnd(8)}  ${a[k].toFixed(0).padStart(8)}  ${b[k].toFixed(0).padStart(8)}  ${(b[k] / a[k]).toFixed(2)}`);
	}
} finally {
	await lm.kill();
	await pg.kill();
	spawnSync('psql', ['-X', '-q', '-d', PG, '-c', `DROP SCHEMA ${schema} CASCADE`]);
}
