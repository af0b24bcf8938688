// bench/console.mjs - the admin console's images page with a large
// collection, timed in Debian's chromium (through tests/browser's
// Playwright).
//
//   node bench/console.mjs       (after `make -j2 all` and
//                                 `bash tests/browser/install.sh`; about
//                                 2 minutes on an idle 2-core machine)
//
// Two daemons: one holding BENCH_IMAGES images (default 10 000), a peer
// holding one page (48). Every image goes through the real upload API
// (POST /v1/images, BENCH_CONCURRENCY connections, default 16) with
// moderation off, so the records, the list index, the originals and the
// grid thumbnails the upload renders (--console-thumbnails upload) are all
// real; only the classifier is skipped. The collection is N - 48 distinct
// 16x16 PNGs, then 48 photos from the corpus (JPEGs up to 1.3 MB, each made
// distinct by a comment segment), uploaded last so the photos are what the
// first screen shows. The data directories go to BENCH_DIR (default
// /dev/shm when it is writable: fsync is free there, which makes seeding
// fast and changes nothing the page reads); BENCH_THUMBS=lazy starts the
// daemons with --console-thumbnails lazy, so the first visit renders.
//
// For each daemon: BENCH_RUNS (default 5) loads of /admin/#/images, each in
// a new browser context (no browser cache) after signing in. The first
// screen is timed in the page (tests/browser/first-screen.mjs): from
// navigation start until the grid's tiles are in and every thumbnail in
// the 1440x900 viewport is loaded and decoded. The first run is the first
// visit after seeding ("cold"); the others are "warm" (median). For the
// cold run and the last warm run the access log's server times are
// summed by kind (console files, session, list, thumbnails). Figures
// depend on the machine and its load; the ratio against the peer shows
// whether the collection's size matters.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as L from '../tests/e2e/lib.mjs';
import { firstScreen } from '../tests/browser/first-screen.mjs';

const N = Number(process.env.BENCH_IMAGES || 10000);
const PHOTOS = Math.min(48, N);
const RUNS = Math.max(2, Number(process.env.BENCH_RUNS || 5));
const CONC = Number(process.env.BENCH_CONCURRENCY || 16);
const THUMBS = process.env.BENCH_THUMBS || 'upload';
const require = createRequire(path.join(L.ROOT, 'tests', 'browser', 'package.json'));
const { chromium } = require('@playwright/test');

const ARGS = ['--moderation', 'off', '--console-thumbnails', THUMBS,
	'--per-ip-conns', '1000', '--queue', '1024', '--queue-per-client', '1024',
	'--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1'];

function benchDir() {
	if (process.env.BENCH_DIR) return process.env.BENCH_DIR;
	try {
		fs.accessSync('/dev/shm', fs.constants.W_OK);
		return '/dev/shm';
	} catch {
		return os.tmpdir();
	}
}
const DIR = benchDir();

// The corpus photos, each upload made distinct (its own SHA-256, so its
// own thumbnail) by a JPEG comment segment right after SOI.
const photoFiles = fs.readdirSync(L.CORPUS)
	.filter((f) => /\.jpe?g$/i.test(f) && fs.statSync(path.join(L.CORPUS, f)).size <= 1.3e6)
	.sort();
if (!photoFiles.length) throw new Error(`no JPEG photos in ${L.CORPUS} (make corpus)`);
const photoBytes = photoFiles.map((f) => fs.readFileSync(path.join(L.CORPUS, f)));
function photo(i) {
	const src = photoBytes[i % photoBytes.length];
	const note = Buffer.from(`pictor bench photo ${i}`);
	const seg = Buffer.alloc(4);
	seg.writeUInt16BE(0xfffe, 0);
	seg.writeUInt16BE(note.length + 2, 2);
	return { bytes: Buffer.concat([src.subarray(0, 2), seg, note, src.subarray(2)]), type: 'image/jpeg', name: `photo-${i}.jpg` };
}
function tiny(i) {
	return { bytes: L.makePng(16, 16, `console-bench-${i}`), type: 'image/png', name: `bench-${i}.png` };
}

async function uploadAll(srv, make, n) {
	let next = 0;
	let failed = 0;
	async function worker() {
		for (;;) {
			const i = next++;
			if (i >= n) return;
			const f = make(i);
			let r;
			for (let attempt = 0; attempt < 20; attempt++) {
				r = await fetch(`${srv.base}/v1/images?filename=${encodeURIComponent(f.name)}`, {
					method: 'POST', headers: { ...srv.auth(), 'Content-Type': f.type }, body: f.bytes,
				});
				if (r.status !== 503) break;
				await r.arrayBuffer();
				await L.sleep(50 * (attempt + 1)); // the queue is full: back off
			}
			if (r.status !== 201) {
				if (!failed++) console.error(`upload ${f.name}: ${r.status} ${await r.text()}`);
				else await r.arrayBuffer();
			} else await r.arrayBuffer();
		}
	}
	await Promise.all(Array.from({ length: Math.min(CONC, n) }, worker));
	if (failed) throw new Error(`${failed} of ${n} uploads failed`);
}

async function seed(srv, n) {
	const t0 = performance.now();
	await uploadAll(srv, tiny, n - PHOTOS);
	await uploadAll(srv, photo, PHOTOS);
	return (performance.now() - t0) / 1000;
}

// The access log's server times for the requests logged since mark.
function serverTimes(srv, mark) {
	const kinds = { files: [], session: [], list: [], thumbnails: [], other: [] };
	for (const l of srv.logs.slice(mark)) {
		if (l.msg !== 'request' || typeof l.ms !== 'number') continue;
		const p = l.path || '';
		const k = p === '/admin/api/session' ? 'session'
			: p.startsWith('/admin') ? 'files'
				: p === '/v1/images' ? 'list'
					: /^\/v1\/images\/[^/]+\/thumbnail$/.test(p) ? 'thumbnails' : 'other';
		kinds[k].push(l.ms);
	}
	return Object.entries(kinds).filter(([, v]) => v.length).map(([k, v]) =>
		`${k} ${v.length}× sum ${v.reduce((a, b) => a + b, 0).toFixed(1)} ms max ${Math.max(...v).toFixed(1)}`).join('; ');
}

// One load of the images page in a fresh context.
async function load(browser, srv) {
	const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
	const r = await ctx.request.post(`${srv.base}/admin/api/session`, { data: { token: srv.adminToken } });
	if (r.status() !== 200) throw new Error(`sign-in answered ${r.status()}`);
	const page = await ctx.newPage();
	const mark = srv.logs.length;
	await page.goto(`${srv.base}/admin/#/images`);
	const fs1 = await firstScreen(page);
	if (fs1.failed) throw new Error(`${fs1.failed} thumbnails in view did not load`);
	const bytes = await page.evaluate(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		let n = nav ? nav.transferSize : 0;
		for (const e of performance.getEntriesByType('resource')) {
			if (/\/admin\/[^/]+\.(js|css)$/.test(new URL(e.name).pathname)) n += e.transferSize;
		}
		return n;
	});
	await ctx.close();
	await L.sleep(100); // the last access-log lines
	return { ...fs1, bytes, server: serverTimes(srv, mark) };
}

function median(a) {
	const s = [...a].sort((x, y) => x - y);
	return s[Math.floor(s.length / 2)];
}

async function measure(browser, srv, label) {
	const runs = [];
	for (let i = 0; i < RUNS; i++) runs.push(await load(browser, srv));
	const warm = median(runs.slice(1).map((r) => r.ms));
	console.log(`${label}: first screen cold ${runs[0].ms.toFixed(0)} ms, warm median ${warm.toFixed(0)} ms of ${RUNS - 1} ` +
		`[${runs.slice(1).map((r) => r.ms.toFixed(0)).join(', ')}] (${runs[0].tiles} tiles, ${runs[0].inView} thumbnails in view)`);
	console.log(`  server, cold: ${runs[0].server}`);
	console.log(`  server, warm: ${runs[RUNS - 1].server}`);
	return { cold: runs[0].ms, warm, bytes: runs[1].bytes };
}

async function main() {
	const t0 = performance.now();
	const mk = () => fs.mkdtempSync(path.join(DIR, 'pictor-bench-console-'));
	const dirs = [mk(), mk()];
	const big = await L.startServer({ dataDir: dirs[0], args: ARGS });
	const small = await L.startServer({ dataDir: dirs[1], args: ARGS });
	try {
		const s1 = await seed(big, N);
		console.log(`seeded ${N} images (${N - PHOTOS} 16x16 PNGs, then ${PHOTOS} photos) in ${s1.toFixed(1)} s ` +
			`(${(N / s1).toFixed(0)}/s, ${CONC} connections, moderation off, data in ${DIR}, thumbnails ${THUMBS})`);
		await seed(small, PHOTOS);
		const browser = await chromium.launch({
			executablePath: process.env.PICTOR_CHROMIUM || '/usr/bin/chromium',
			args: ['--headless=new', '--no-sandbox', '--disable-gpu'],
		});
		try {
			const a = await measure(browser, big, `${N} images`);
			const b = await measure(browser, small, `${PHOTOS} images (peer)`);
			console.log(`ratio ${N} / ${PHOTOS} images: cold ${(a.cold / b.cold).toFixed(2)}, warm ${(a.warm / b.warm).toFixed(2)}`);
			console.log(`first load (HTML + JS + CSS) as transferred by the browser: ${a.bytes} bytes ` +
				`(${(a.bytes / 1024).toFixed(1)} KB; the limit is 150 KB)`);
		} finally {
			await browser.close();
		}
		console.log(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; bench took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
	} finally {
		await big.stop().catch(() => big.kill());
		await small.stop().catch(() => small.kill());
		for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
