// bench/placeholder.mjs - the moderation placeholder's render time by
// requested size, as ratios against the smallest size in the same run.
//
// A daemon that flags every upload and serves placeholders (result cache
// off, one worker) receives the 5640x3172 corpus photo, then
// BENCH_REPS (default 3) placeholder renders per width of BENCH_WIDTHS
// (default 256,2048,8192; f=jpeg, a distinct quality per repetition so
// none is a repeat). Prints the median client time per width and its
// ratio to the first width's. Run it with PICTOR_BIN set to another build
// to compare.
//
//   node bench/placeholder.mjs     (make pictor and make corpus first)

import path from 'node:path';
import * as L from '../tests/e2e/lib.mjs';

const REPS = Number(process.env.BENCH_REPS || 3);
const WIDTHS = (process.env.BENCH_WIDTHS || '256,2048,8192').split(',').map(Number);

const srv = await L.startServer({
	args: ['--moderation-policy', 'all=flag: neutral>=0', '--moderation-placeholder', 'on',
		'--cache-memory', '0', '--cache-disk', '0', '--workers', '1'],
});
try {
	const up = await L.upload(srv, path.join(L.CORPUS, 'Elephants_5640x3172.jpg'), { timeout: 300000 });
	if (up.status !== 201) throw new Error(`upload: ${up.status}`);
	// the upload's own background work done; one render to warm up
	await L.sleep(5000);
	await L.req(srv, 'GET', `/img/${up.record.id}/w=100,f=jpeg`, { timeout: 300000 });
	const med = {};
	for (const w of WIDTHS) {
		const t = [];
		for (let i = 0; i < REPS; i++) {
			const t0 = performance.now();
			const r = await L.req(srv, 'GET', `/img/${up.record.id}/w=${w},q=${80 + i},f=jpeg`, { timeout: 300000 });
			t.push(performance.now() - t0);
			if (r.status !== 200 || r.headers.get('x-pictor-placeholder') !== 'moderation')
				throw new Error(`w=${w}: ${r.status}`);
		}
		t.sort((a, b) => a - b);
		med[w] = t[t.length >> 1];
	}
	console.log(`| width | median ms | ratio to w=${WIDTHS[0]} |`);
	console.log('|---|---|---|');
	for (const w of WIDTHS) console.log(`| ${w} | ${med[w].toFixed(0)} | ${(med[w] / med[WIDTHS[0]]).toFixed(2)} |`);
} finally {
	await srv.kill();
}
