// bench/reclassify.mjs - what a re-classification job costs delivery.
//
//   PICTOR_BIN=./pictor PICTOR_CORPUS=build/corpus node bench/reclassify.mjs
//
// For each --reclassify-share in BENCH_SHARES (default 50,100): a server
// holding BENCH_IMAGES corpus photos renders uncached variants (a new
// width each request, so every request decodes, resizes and encodes) for
// BENCH_SECONDS with no job, then for BENCH_SECONDS while a job re-judges
// the collection (restarted whenever it finishes). Printed: renders per
// second and median latency in both windows, their ratios (job / idle,
// measured in the same run), and the job's images per second. Figures
// depend on the machine and its load; compare the ratios.

import fs from 'node:fs';
import path from 'node:path';
import * as L from '../tests/e2e/lib.mjs';

const SECS = Number(process.env.BENCH_SECONDS || 5);
const SHARES = (process.env.BENCH_SHARES || '50,100').split(',').map(Number);
const NIMAGES = Number(process.env.BENCH_IMAGES || 24);

function median(a) {
	const s = [...a].sort((x, y) => x - y);
	return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

async function renders(s, ids, secs, w0) {
	const ms = [];
	const end = Date.now() + secs * 1000;
	let w = w0;
	while (Date.now() < end) {
		const id = ids[w % ids.length];
		const t0 = performance.now();
		const r = await L.req(s, 'GET', `/cdn-cgi/image/width=${100 + (w % 900)},quality=${50 + (w % 40)},format=webp/${id}`);
		if (r.status !== 200) throw new Error(`render: ${L.show(r)}`);
		ms.push(performance.now() - t0);
		w++;
	}
	return { n: ms.length, rate: ms.length / secs, p50: median(ms) };
}

async function jobRunning(s) {
	const list = (await L.api(s, 'GET', '/v1/moderation/reclassify')).json.result.jobs;
	return list.some((j) => j.state === 'running');
}

async function main() {
	const files = fs.readdirSync(L.CORPUS).filter((f) => /\.(jpg|png)$/.test(f) &&
		fs.statSync(path.join(L.CORPUS, f)).size < 1500000).slice(0, NIMAGES);
	if (files.length < 4) throw new Error('corpus missing: make corpus');
	console.log(`reclassify bench: ${files.length} images, ${SECS} s windows, shares ${SHARES.join(',')}`);
	for (const share of SHARES) {
		const s = await L.startServer({ args: ['--reclassify-share', String(share), '--cache-memory', '0', '--cache-disk', '0', '--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1'] });
		try {
			const ids = [];
			for (const f of files) {
				const up = await L.upload(s, path.join(L.CORPUS, f));
				if (up.status !== 201) throw new Error(`upload ${f}: ${L.show(up)}`);
				ids.push(up.record.id);
			}
			await renders(s, ids, 1, 0); // warm up
			const idle = await renders(s, ids, SECS, 1000);
			let visited = 0;
			const counter = async () => {
				const m = (await L.req(s, 'GET', '/metrics')).text;
				return [...m.matchAll(/^pictor_reclassify_images_total\{[^}]*\} ([0-9.]+)$/gm)]
					.reduce((a, x) => a + Number(x[1]), 0);
			};
			const v0 = await counter();
			let stop = false;
			const keeper = (async () => {
				while (!stop) {
					if (!(await jobRunning(s)))
						await L.api(s, 'POST', '/v1/moderation/reclassify', { all: true });
					await L.sleep(100);
				}
			})();
			await L.sleep(300);
			const busy = await renders(s, ids, SECS, 2000);
			stop = true;
			await keeper;
			visited = (await counter()) - v0;
			console.log(`share ${share}%: idle ${idle.rate.toFixed(1)} renders/s p50 ${idle.p50.toFixed(1)} ms; ` +
				`with a job ${busy.rate.toFixed(1)} renders/s p50 ${busy.p50.toFixed(1)} ms; ` +
				`ratio rate ${(busy.rate / idle.rate).toFixed(2)} p50 ${(busy.p50 / idle.p50).toFixed(2)}; ` +
				`job ${(visited / (SECS + 0.3)).toFixed(1)} images/s`);
		} finally {
			await s.kill();
		}
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
