// bench/rss.mjs - the daemon's RSS through a burst of heavy renders and
// the idle time after it, for each allocator setting in one run.
//
// An animated GIF of BENCH_FRAMES frames (default 100, 400x300) is built
// from frames Pictor encodes itself, then for each setting a fresh
// daemon (moderation off, result cache off so no output is kept on
// purpose) receives BENCH_RENDERS (default 12) renders of
// `w=...,blur=250,f=gif` with distinct widths, BENCH_CONCURRENCY (default
// 2) at a time. RSS (VmRSS of the daemon) is sampled every 250 ms; the
// script prints baseline (after the upload, idle), peak, and RSS 1 s,
// 5 s and BENCH_IDLE (default 15) seconds after the last answer, with
// the ratio of each to the baseline.
//
// Settings (BENCH_SETTINGS, default "glibc,tuned"):
//   glibc  --malloc-arenas 0: glibc's defaults, no trimming
//   tuned  --malloc-arenas 2 (the default): two arenas, fixed mmap
//          threshold, a trim when the workers fall idle and every 10 s
//
//   node bench/rss.mjs            (make pictor first; or bench/run.sh rss)
//
// BENCH_MODE=send measures --send-memory instead: a fresh daemon (result
// cache off) per bound in BENCH_SEND_BOUNDS (default "0,32M"; 0: off)
// answers BENCH_READERS (default 16) clients that ask for distinct
// large PNGs (a noise original, about 11 MB each) and then read
// nothing (--min-send-rate 0, so only the bound cuts them). It prints
// baseline and peak RSS, RSS BENCH_SEND_WAIT (default 20) seconds after
// the last request, the bytes the daemon says it holds for readers, and
// how many readers were cut.

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import * as L from '../tests/e2e/lib.mjs';
import { gifFrame, joinGif } from '../tests/e2e/gif.mjs';

const FRAMES = Number(process.env.BENCH_FRAMES || 100);
const RENDERS = Number(process.env.BENCH_RENDERS || 12);
const CONC = Number(process.env.BENCH_CONCURRENCY || 2);
const IDLE = Number(process.env.BENCH_IDLE || 15);
const SETTINGS = (process.env.BENCH_SETTINGS || 'glibc,tuned').split(',');
const ARENAS = { glibc: '0', tuned: '2' };
// an older build (BENCH with PICTOR_BIN of one) may have no render budget
const NO_BUDGET = /render-timeout/.test(spawnSync(L.BIN, ['serve', '--help'], { encoding: 'utf8' }).stdout ?? '')
	? ['--render-timeout', '0'] : [];

function rssKiB(pid) {
	const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) : 0;
}

const mib = (k) => (k / 1024).toFixed(0);

async function buildGif() {
	const srv = await L.startServer({ args: ['--moderation', 'off', '--cache-memory', '0', '--cache-disk', '0'] });
	try {
		const up = await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'));
		const frames = [];
		for (let i = 0; i < FRAMES; i++) {
			// a different picture per frame, so no frame is a copy
			const r = await L.req(srv, 'GET', `/img/${up.record.id}/w=400,h=300,fit=cover,rotate=${(i % 4) * 90},brightness=${(0.6 + (i % 9) * 0.1).toFixed(1)},f=gif`);
			if (r.status !== 200) throw new Error(`frame ${i}: ${r.status}`);
			frames.push(gifFrame(r.body));
		}
		return joinGif(frames);
	} finally {
		await srv.kill();
	}
}

async function run(setting, gif) {
	const srv = await L.startServer({
		args: ['--moderation', 'off', '--cache-memory', '0', '--cache-disk', '0', '--workers', '2',
			'--max-output-cost', '1000000000', ...NO_BUDGET, '--malloc-arenas', ARENAS[setting]],
	});
	try {
		const up = await L.upload(srv, gif, { timeout: 120000 });
		if (up.status !== 201) throw new Error(`upload: ${up.status}`);
		await L.sleep(11000); // the upload's own garbage trimmed
		const base = rssKiB(srv.pid);
		let peak = base;
		const sampler = setInterval(() => { peak = Math.max(peak, rssKiB(srv.pid)); }, 250);
		let next = 0;
		const t0 = performance.now();
		const worker = async () => {
			while (next < RENDERS) {
				const i = next++;
				const r = await L.req(srv, 'GET', `/img/${up.record.id}/w=${380 - i},blur=250,f=gif`, { timeout: 600000 });
				if (r.status !== 200) throw new Error(`render ${i}: ${r.status} ${r.text?.slice(0, 200)}`);
			}
		};
		await Promise.all(Array.from({ length: CONC }, worker));
		const burst = (performance.now() - t0) / 1000;
		const after = {};
		for (const s of [1, 5, IDLE]) {
			await L.sleep((s - (Object.keys(after).length ? [1, 5, IDLE][Object.keys(after).length - 1] : 0)) * 1000);
			after[s] = rssKiB(srv.pid);
		}
		clearInterval(sampler);
		const row = [setting, mib(base), mib(peak), mib(after[1]), mib(after[5]), mib(after[IDLE]),
			(after[1] / base).toFixed(2), (after[IDLE] / base).toFixed(2), burst.toFixed(1)];
		console.log(`| ${row.join(' | ')} |`);
	} finally {
		await srv.kill();
	}
}

// The value of metric name in the daemon's /metrics, or 0.
async function metric(srv, name) {
	const r = await L.req(srv, 'GET', '/metrics');
	const line = r.text.split('\n').find((l) => l.startsWith(name + ' '));
	return line ? Number(line.slice(name.length + 1)) : 0;
}

async function sendRun(bound, png) {
	const WAIT = Number(process.env.BENCH_SEND_WAIT || 20);
	const READERS = Number(process.env.BENCH_READERS || 16);
	const srv = await L.startServer({
		args: ['--moderation', 'off', '--cache-memory', '0', '--cache-disk', '0', '--workers', '2',
			// no minimum send rate: only the memory bound cuts readers
			'--send-memory', bound, '--min-send-rate', '0', '--rate-limit', 'render=0/s:1,hit=0/s:1'],
	});
	const socks = [];
	try {
		const up = await L.upload(srv, png, { timeout: 120000 });
		if (up.status !== 201) throw new Error(`upload: ${up.status}`);
		await L.sleep(11000); // the upload's own garbage trimmed
		const base = rssKiB(srv.pid);
		let peak = base;
		const sampler = setInterval(() => { peak = Math.max(peak, rssKiB(srv.pid)); }, 100);
		for (let i = 0; i < READERS; i++) {
			const s = net.connect({ host: '127.0.0.1', port: srv.port, localAddress: `127.0.5.${i + 1}` });
			s.on('error', () => {});
			s.pause(); // reads nothing: the answer stays in the daemon
			s.write(`GET /img/${up.record.id}/w=${2000 - i},f=png HTTP/1.1\r\nHost: x\r\n\r\n`);
			socks.push(s);
		}
		await L.sleep(WAIT * 1000);
		const held = await metric(srv, 'pictor_send_memory_bytes');
		const cut = await metric(srv, 'pictor_conn_memory_closed_total');
		const end = rssKiB(srv.pid);
		clearInterval(sampler);
		console.log(`| ${bound} | ${READERS} | ${mib(base)} | ${mib(peak)} | ${mib(end)} | ${(held / 1048576).toFixed(0)} | ${cut} |`);
	} finally {
		for (const s of socks) s.destroy();
		await srv.kill();
	}
}

if (process.env.BENCH_MODE === 'send') {
	// 2000x2000 of noise: no encoder can shrink it
	const png = L.encodePng(2000, 2000, crypto.randomBytes(2000 * 2000 * 3), 3);
	console.log(`# --send-memory: readers that read nothing, each of a distinct ~${(png.length / 1048576).toFixed(0)} MB PNG`);
	console.log('| --send-memory | readers | baseline MiB | peak MiB | end MiB | held for readers MiB | readers cut |');
	console.log('|---|---|---|---|---|---|---|');
	for (const b of (process.env.BENCH_SEND_BOUNDS || '0,32M').split(',')) await sendRun(b, png);
	process.exit(0);
}

const gif = await buildGif();
console.log(`# ${FRAMES}-frame 400x300 GIF (${(gif.length / 1024).toFixed(0)} KiB), ${RENDERS} renders of w=...,blur=250,f=gif, ${CONC} at a time`);
console.log(`| setting | baseline MiB | peak MiB | +1 s MiB | +5 s MiB | +${IDLE} s MiB | +1 s / baseline | +${IDLE} s / baseline | burst s |`);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const s of SETTINGS) await run(s, gif);
