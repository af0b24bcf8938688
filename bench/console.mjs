// bench/console.mjs - the admin console's images page with a large
// collection, in Debian's chromium (through tests/browser's Playwright).
//
//   node bench/console.mjs            (after `make -j2 all` and
//                                      `bash tests/browser/install.sh`)
//
// Seeds BENCH_IMAGES (default 10 000) distinct 16x16 PNGs into a fresh
// daemon with moderation off (the honest fast path: the records, index and
// originals are real; only the classifier is skipped), and a peer daemon
// with one page of images (48). Then, for each, signs in and loads
// /admin/#/images BENCH_RUNS times (default 5) in a new browser context and
// times the first screen: from navigation start until the grid shows and
// every thumbnail inside the viewport has loaded. The first run renders
// the thumbnails (result cache cold), the others hit the cache. Prints the
// cold time, the median warm time, the ratio against the peer, and the
// first load's size (HTML + JS + CSS) as the browser transferred it.
// Figures depend on the machine and its load; read the ratio.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as L from '../tests/e2e/lib.mjs';

const N = Number(process.env.BENCH_IMAGES || 10000);
const RUNS = Math.max(2, Number(process.env.BENCH_RUNS || 5));
const CONC = Number(process.env.BENCH_CONCURRENCY || 16);
const require = createRequire(path.join(L.ROOT, 'tests', 'browser', 'package.json'));
const { chromium } = require('@playwright/test');

const ARGS = ['--moderation', 'off', '--per-ip-conns', '1000', '--queue', '1024', '--queue-per-client', '1024',
	'--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1'];

async function seed(srv, n) {
	const t0 = performance.now();
	let next = 0;
	let failed = 0;
	async function worker() {
		for (;;) {
			const i = next++;
			if (i >= n) return;
			const png = L.makePng(16, 16, `console-bench-${i}`);
			let r;
			for (let attempt = 0; attempt < 20; attempt++) {
				r = await fetch(`${srv.base}/v1/images?filename=bench-${i}.png`, {
					method: 'POST', headers: { ...srv.auth(), 'Content-Type': 'image/png' }, body: png,
				});
				if (r.status !== 503) break;
				await r.arrayBuffer();
				await L.sleep(50 * (attempt + 1)); // the queue is full: back off
			}
			if (r.status !== 201) {
				if (!failed++) console.error(`upload ${i}: ${r.status} ${await r.text()}`);
				else await r.arrayBuffer();
			} else await r.arrayBuffer();
		}
	}
	await Promise.all(Array.from({ length: CONC }, worker));
	const s = (performance.now() - t0) / 1000;
	if (failed) throw new Error(`${failed} of ${n} uploads failed`);
	return s;
}

// One load of the images page in a fresh context; ms from navigation start.
async function firstScreen(browser, srv, width = 1440) {
	const ctx = await browser.newContext({ viewport: { width, height: 900 } });
	const r = await ctx.request.post(`${srv.base}/admin/api/session`, { data: { token: srv.adminToken } });
	if (r.status() !== 200) throw new Error(`sign-in answered ${r.status()}`);
	const page = await ctx.newPage();
	await page.goto(`${srv.base}/admin/#/images`);
	const ms = await page.waitForFunction(() => {
		const tiles = document.querySelectorAll('.tile');
		if (!tiles.length) return false;
		const vh = window.innerHeight;
		for (const img of document.querySelectorAll('.tile img')) {
			const b = img.getBoundingClientRect();
			if (b.top < vh && b.bottom > 0 && !(img.complete && img.naturalWidth)) return false;
		}
		return performance.now();
	}, null, { polling: 'raf', timeout: 60_000 }).then((h) => h.jsonValue());
	const shown = await page.locator('.tile').count();
	const bytes = await page.evaluate(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		let n = nav ? nav.transferSize : 0;
		for (const e of performance.getEntriesByType('resource')) {
			if (/\/admin\/[^/]+\.(js|css)$/.test(new URL(e.name).pathname)) n += e.transferSize;
		}
		return n;
	});
	await ctx.close();
	return { ms, shown, bytes };
}

function median(a) {
	const s = [...a].sort((x, y) => x - y);
	return s[Math.floor(s.length / 2)];
}

async function measure(browser, srv, label) {
	const runs = [];
	for (let i = 0; i < RUNS; i++) runs.push(await firstScreen(browser, srv));
	const warm = median(runs.slice(1).map((r) => r.ms));
	console.log(`${label}: first screen cold ${runs[0].ms.toFixed(0)} ms (thumbnails rendered), ` +
		`warm median ${warm.toFixed(0)} ms of ${RUNS - 1} (${runs[0].shown} tiles shown)`);
	return { cold: runs[0].ms, warm, bytes: runs[1].bytes };
}

async function main() {
	const big = await L.startServer({ args: ARGS });
	const small = await L.startServer({ args: ARGS });
	try {
		const s1 = await seed(big, N);
		console.log(`seeded ${N} images in ${s1.toFixed(1)} s (${(N / s1).toFixed(0)}/s, ${CONC} connections, moderation off)`);
		await seed(small, 48);
		const browser = await chromium.launch({
			executablePath: process.env.PICTOR_CHROMIUM || '/usr/bin/chromium',
			args: ['--headless=new', '--no-sandbox', '--disable-gpu'],
		});
		try {
			const a = await measure(browser, big, `${N} images`);
			const b = await measure(browser, small, '48 images (peer)');
			console.log(`ratio ${N} / 48 images: cold ${(a.cold / b.cold).toFixed(2)}, warm ${(a.warm / b.warm).toFixed(2)}`);
			console.log(`first load (HTML + JS + CSS) as transferred by the browser: ${a.bytes} bytes ` +
				`(${(a.bytes / 1024).toFixed(1)} KB; the limit is 150 KB)`);
		} finally {
			await browser.close();
		}
		const raw = fs.readdirSync(path.join(L.ROOT, 'src', 'console', 'assets'))
			.reduce((n, f) => n + fs.statSync(path.join(L.ROOT, 'src', 'console', 'assets', f)).size, 0);
		console.log(`console assets on disk, uncompressed: ${raw} bytes`);
	} finally {
		await big.stop().catch(() => big.kill());
		await small.stop().catch(() => small.kill());
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
