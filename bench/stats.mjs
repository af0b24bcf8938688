// bench/stats.mjs - what GET /v1/stats and a search page cost with a
// large collection, against /healthz (no work) in the same run.
//
//   node bench/stats.mjs          (after `make -j2 all`)
//
// Seeds BENCH_IMAGES (default 10 000) distinct 16x16 PNGs into a fresh
// daemon with moderation off, then times BENCH_RUNS (default 200)
// sequential requests of each: /healthz, /v1/stats, /v1/images?per_page=50
// and a search that matches one image (so it reads every record up to the
// scan bound). Prints the median and the ratio of each to /healthz.
// Figures depend on the machine and its load; read the ratios.

import * as L from '../tests/e2e/lib.mjs';

const N = Number(process.env.BENCH_IMAGES || 10000);
const RUNS = Number(process.env.BENCH_RUNS || 200);
const CONC = 16;

const srv = await L.startServer({ args: ['--moderation', 'off', '--per-ip-conns', '1000',
	'--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1'] });
try {
	const t0 = performance.now();
	let next = 0;
	async function worker() {
		for (;;) {
			const i = next++;
			if (i >= N) return;
			for (let tries = 0; ; tries++) {
				const r = await fetch(`${srv.base}/v1/images?filename=bench-${i}.png`, {
					method: 'POST', headers: { ...srv.auth(), 'Content-Type': 'image/png' },
					body: L.makePng(16, 16, `stats-bench-${i}`),
				});
				await r.arrayBuffer();
				if (r.status === 201) break;
				// a full queue: wait and send it again
				if (r.status !== 503 || tries > 50) throw new Error(`upload ${i}: ${r.status}`);
				await L.sleep(50);
			}
		}
	}
	await Promise.all(Array.from({ length: CONC }, worker));
	console.log(`# bench/stats: ${N} images seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

	const median = async (path) => {
		const ms = [];
		for (let i = 0; i < RUNS; i++) {
			const t = performance.now();
			const r = await fetch(srv.base + path, { headers: srv.auth() });
			await r.arrayBuffer();
			if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
			ms.push(performance.now() - t);
		}
		ms.sort((a, b) => a - b);
		return ms[ms.length >> 1];
	};
	const base = await median('/healthz');
	console.log(`/healthz                         median ${base.toFixed(2)} ms`);
	for (const p of ['/v1/stats', '/v1/images?per_page=50', `/v1/images?per_page=50&search=bench-${Math.floor(N / 2)}.png`]) {
		const m = await median(p);
		console.log(`${p.padEnd(32)} median ${m.toFixed(2)} ms  (${(m / base).toFixed(1)}x /healthz)`);
	}
} finally {
	await srv.kill();
}
