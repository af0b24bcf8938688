// bench/guard.mjs - one abusive client must not hurt the others.
//
// Starts ./pictor (default limits, moderation off) on loopback, uploads a
// photo, then measures a legitimate client on 127.0.0.9 requesting renders
// at a modest rate (BENCH_LEGIT_RPS, default 2/s):
//   - unloaded, uncached (a new width each time) and cached (a fixed set);
//   - during a flood from one address (127.0.1.1, BENCH_FLOOD_CONNS
//     connections, cache-busting widths, as fast as it can);
//   - during a flood from 100 addresses (127.0.1.1-127.0.1.100, one
//     connection each).
// For each: the legitimate client's p50/p99 and its 429/503 counts, the
// flood's accepted renders a second against the per-client render limit,
// its 429/503 counts, and the daemon's peak RSS. Then the limiter's cost on
// cache hits: hit throughput from 16 connections (16 addresses) with the
// limiter on (limits high enough never to refuse) and off, same run.
// Figures depend on the machine and its load; read the ratios.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = process.env.PICTOR_BIN || path.join(ROOT, 'pictor');
const PHOTO = process.env.BENCH_PHOTO || path.join(ROOT, 'build/corpus/Dune.jpg');
const SECS = Number(process.env.BENCH_SECONDS || 10);
const LEGIT_RPS = Number(process.env.BENCH_LEGIT_RPS || 2);
const FLOOD_CONNS = Number(process.env.BENCH_FLOOD_CONNS || 16);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start(extra = []) {
	const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pictor-bench-guard-'));
	const p = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--moderation', 'off',
		...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
	let buf = '';
	const port = await new Promise((resolve, reject) => {
		p.stderr.on('data', (c) => {
			buf += c;
			const m = /"msg":"listening","addr":"[^"]*:(\d+)"/.exec(buf);
			if (m) resolve(Number(m[1]));
		});
		p.on('exit', (code) => reject(new Error(`pictor exited ${code}: ${buf}`)));
	});
	p.stderr.on('data', () => {});
	const secrets = JSON.parse(fs.readFileSync(path.join(data, 'secrets.json'), 'utf8'));
	return { p, port, data, token: secrets.admin_token };
}

function request(srv, pathname, { from = '127.0.0.1', agent, method = 'GET', headers = {}, body } = {}) {
	return new Promise((resolve) => {
		const t0 = performance.now();
		const rq = http.request({ host: '127.0.0.1', port: srv.port, path: pathname, method, headers,
			localAddress: from, agent: agent ?? false }, (res) => {
			res.on('data', () => {});
			res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
		});
		rq.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
		rq.setTimeout(60000, () => rq.destroy());
		if (body) rq.write(body);
		rq.end();
	});
}

function rss(pid) {
	try {
		const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
		return m ? Number(m[1]) / 1024 : 0;
	} catch { return 0; }
}

const pct = (a, q) => {
	if (!a.length) return NaN;
	const s = [...a].sort((x, y) => x - y);
	return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

let bust = 0;
async function legit(srv, id, cached, stop) {
	const out = { ms: [], codes: {} };
	const agent = new http.Agent({ keepAlive: true, maxSockets: 4, localAddress: '127.0.0.9' });
	const pending = [];
	for (let i = 0; !stop.done; i++) {
		const w = cached ? 100 + (i % 8) : 100 + ((bust++ % 900) + 8);
		pending.push(request(srv, `/img/${id}/w=${w},f=jpeg`, { from: '127.0.0.9', agent }).then((r) => {
			out.codes[r.status] = (out.codes[r.status] ?? 0) + 1;
			if (r.status === 200) out.ms.push(r.ms);
		}));
		await sleep(1000 / LEGIT_RPS);
	}
	await Promise.all(pending);
	agent.destroy();
	return out;
}

let fbust = 0;
async function flood(srv, id, addrs, conns, stop) {
	const out = { codes: {} };
	const loops = [];
	for (let a = 0; a < addrs.length; a++) {
		const agent = new http.Agent({ keepAlive: true, maxSockets: conns, localAddress: addrs[a] });
		for (let c = 0; c < conns; c++) {
			loops.push((async () => {
				while (!stop.done) {
					const w = 1000 + (fbust++ % 2000);
					const r = await request(srv, `/img/${id}/w=${w},q=${50 + (fbust % 40)},f=jpeg`, { from: addrs[a], agent });
					out.codes[r.status] = (out.codes[r.status] ?? 0) + 1;
					if (r.status === 0) await sleep(10);
				}
			})());
		}
	}
	await Promise.all(loops);
	return out;
}

async function phase(srv, id, name, cached, floodAddrs, conns) {
	const stop = { done: false };
	let peak = 0;
	const sampler = setInterval(() => { peak = Math.max(peak, rss(srv.p.pid)); }, 200);
	const t0 = performance.now();
	const fl = floodAddrs ? flood(srv, id, floodAddrs, conns, stop) : null;
	const lg = legit(srv, id, cached, stop);
	await sleep(SECS * 1000);
	stop.done = true;
	const [l, f] = await Promise.all([lg, fl]);
	const secs = (performance.now() - t0) / 1000;
	clearInterval(sampler);
	const row = {
		phase: name,
		legit_p50_ms: +pct(l.ms, 0.5).toFixed(1),
		legit_p99_ms: +pct(l.ms, 0.99).toFixed(1),
		legit_200: l.codes[200] ?? 0,
		legit_429: l.codes[429] ?? 0,
		legit_503: l.codes[503] ?? 0,
		flood_accepted_per_s: f ? +((f.codes[200] ?? 0) / secs).toFixed(1) : null,
		flood_429: f ? f.codes[429] ?? 0 : null,
		flood_503: f ? f.codes[503] ?? 0 : null,
		peak_rss_mib: +peak.toFixed(0),
	};
	console.log(JSON.stringify(row));
	return row;
}

async function hitThroughput(srv, id, secs) {
	const stop = { done: false };
	let n = 0;
	const loops = [];
	for (let a = 0; a < 16; a++) {
		const from = `127.0.2.${a + 1}`;
		const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: from });
		loops.push((async () => {
			while (!stop.done) {
				const r = await request(srv, `/img/${id}/w=120,f=jpeg`, { from, agent });
				if (r.status === 200) n++;
			}
		})());
	}
	await sleep(secs * 1000);
	stop.done = true;
	await Promise.all(loops);
	return n / secs;
}

async function upload(srv) {
	const bytes = fs.readFileSync(PHOTO);
	const r = await new Promise((resolve) => {
		const rq = http.request({ host: '127.0.0.1', port: srv.port, path: '/v1/images?filename=bench.jpg', method: 'POST',
			headers: { Authorization: `Bearer ${srv.token}`, 'Content-Type': 'image/jpeg', 'Content-Length': bytes.length } }, (res) => {
			let t = '';
			res.on('data', (c) => { t += c; });
			res.on('end', () => resolve(JSON.parse(t)));
		});
		rq.end(bytes);
	});
	return r.result.id;
}

const srv = await start();
try {
	const id = await upload(srv);
	console.log(`# photo ${path.basename(PHOTO)}, ${SECS}s a phase, legit ${LEGIT_RPS}/s from 127.0.0.9, ` +
		`render limit per client: default (10/s, burst 100), workers ${os.cpus().length}`);
	for (let i = 0; i < 8; i++) await request(srv, `/img/${id}/w=${100 + i},f=jpeg`, { from: '127.0.0.9' });
	const one = ['127.0.1.1'];
	const hundred = Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 1}`);
	const rows = [];
	rows.push(await phase(srv, id, 'unloaded, uncached', false, null));
	rows.push(await phase(srv, id, 'flood 1 address, uncached', false, one, FLOOD_CONNS));
	rows.push(await phase(srv, id, 'flood 100 addresses, uncached', false, hundred, 1));
	rows.push(await phase(srv, id, 'unloaded, cached', true, null));
	rows.push(await phase(srv, id, 'flood 1 address, cached', true, one, FLOOD_CONNS));
	rows.push(await phase(srv, id, 'flood 100 addresses, cached', true, hundred, 1));
	for (const [base, a, b] of [[0, 1, 2], [3, 4, 5]]) {
		for (const k of [a, b]) {
			console.log(`# ${rows[k].phase}: legit p99 ${(rows[k].legit_p99_ms / rows[base].legit_p99_ms).toFixed(2)}x unloaded`);
		}
	}
} finally {
	srv.p.kill('SIGKILL');
}

// The limiter's cost on cache hits: on (limits high enough never to refuse) vs off.
const on = await start(['--rate-limit', 'hit=1000000/s:1000000,render=1000000/s:1000000']);
const off = await start(['--rate-limit', 'hit=0/s:1,render=0/s:1,api=0/s:1,upload=0/s:1']);
try {
	const ids = [await upload(on), await upload(off)];
	await request(on, `/img/${ids[0]}/w=120,f=jpeg`);
	await request(off, `/img/${ids[1]}/w=120,f=jpeg`);
	const hs = Math.max(3, Math.round(SECS / 2));
	// alternate to share the machine's load between the two
	const r = { on: [], off: [] };
	for (let i = 0; i < 2; i++) {
		r.off.push(await hitThroughput(off, ids[1], hs));
		r.on.push(await hitThroughput(on, ids[0], hs));
	}
	const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;
	console.log(JSON.stringify({ hits_per_s_limiter_on: +avg(r.on).toFixed(0), hits_per_s_limiter_off: +avg(r.off).toFixed(0),
		ratio_on_off: +(avg(r.on) / avg(r.off)).toFixed(3) }));
} finally {
	on.p.kill('SIGKILL');
	off.p.kill('SIGKILL');
}
