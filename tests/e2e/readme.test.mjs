// The README walk-through runs as written: every ```sh block of its "A
// walk through" section is executed by bash (errexit, pipefail) in a
// directory laid out like a fresh checkout after `make run` (./pictor,
// ./tests, ./var), against a live daemon; only the address is changed, to
// the daemon's ephemeral loopback port.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;

function walkThroughBlocks(md) {
	const start = md.indexOf('\n## A walk through\n');
	assert.ok(start >= 0, 'README has "## A walk through"');
	const end = md.indexOf('\n## ', start + 5);
	const section = md.slice(start, end < 0 ? undefined : end);
	const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
	assert.ok(blocks.length >= 2, 'the walk-through has its shell blocks');
	return blocks;
}

function bash(script, cwd) {
	return new Promise((resolve) => {
		const env = {};
		for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PICTOR_')) env[k] = v;
		env.PICTOR_MODELS = L.MODELS;
		const p = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		p.stdout.on('data', (c) => { out += c; });
		p.stderr.on('data', (c) => { err += c; });
		p.on('close', (code) => resolve({ code, out, err }));
	});
}

test('README: the walk-through runs against a live daemon', { timeout: T }, async () => {
	const md = await fs.readFile(path.join(L.ROOT, 'README.md'), 'utf8');
	const blocks = walkThroughBlocks(md);
	const dir = await L.tmpDir();
	await fs.symlink(L.BIN, path.join(dir, 'pictor'));
	await fs.symlink(path.join(L.ROOT, 'tests'), path.join(dir, 'tests'));
	await fs.mkdir(path.join(dir, 'var'));
	const srv = await L.startServer({ dataDir: path.join(dir, 'var'), args: ['--rate-limit', 'api=1000/s:1000,render=1000/s:1000'] });
	try {
		// All blocks in one shell, as a reader pastes them one after another.
		const script = blocks.join('\n').replaceAll('127.0.0.1:8080', srv.addr);
		const r = await bash(script, dir);
		assert.equal(r.code, 0, `the walk-through failed (exit ${r.code}):\n${r.err}\n--- stdout:\n${r.out.slice(-2000)}`);
		// What it says it does, it did.
		const files = await fs.readdir(dir);
		for (const f of ['photo.jpg', 'thumb.avif', 'w400.webp', 'crop.jpg', 'signed.jpg']) assert.ok(files.includes(f), `${f} written`);
		const probe = async (f) => L.probe(await fs.readFile(path.join(dir, f)));
		assert.equal((await probe('thumb.avif')).format, 'avif');
		assert.deepEqual(await probe('w400.webp').then((p) => [p.format, p.width, p.height]), ['webp', 400, 300]);
		assert.deepEqual(await probe('crop.jpg').then((p) => [p.format, p.width]), ['jpeg', 300]);
		assert.equal((await probe('signed.jpg')).format, 'jpeg');
		assert.match(r.out, /^403$/m, 'the unsigned request is refused');
		assert.match(r.out, /"verdict":"approve"/, 'pictor classify printed its verdict');
		const list = await L.api(srv, 'GET', '/v1/images?per_page=10');
		assert.equal(list.json.result.images.length, 2, 'two uploads');
	} finally {
		await srv.kill();
	}
});

// docs/API.md's table of error messages: each row's request is sent and
// its status, code and message must be exactly what the table says.
test('docs/API.md: the error messages shown are the real ones', { timeout: T }, async () => {
	const md = await fs.readFile(path.join(L.ROOT, 'docs', 'API.md'), 'utf8');
	const table = md.slice(md.indexOf('<!-- error-examples -->'), md.indexOf('<!-- /error-examples -->'));
	const rows = table.split('\n').filter((l) => l.startsWith('| `'));
	assert.ok(rows.length >= 8, 'the table is there');
	const srv = await L.startServer({ args: ['--moderation', 'off', '--max-upload-bytes', '1M'] });
	try {
		const id = (await L.upload(srv, path.join(L.INPUTS, 'rgb.jpg'))).record.id;
		const send = {
			'POST /v1/images with the bytes hello': () => L.upload(srv, Buffer.from('hello'), { raw: true }),
			'POST /v1/images with 2000000 bytes and Expect: 100-continue': () => L.rawRequest(srv, 'POST', '/v1/images', {
				headers: { ...srv.auth(), 'Content-Type': 'application/octet-stream' },
				body: Buffer.alloc(2000000), expectContinue: true,
			}),
			'GET /v1/images without a token': () => L.req(srv, 'GET', '/v1/images'),
		};
		for (const row of rows) {
			const cells = row.split(' | ').map((c) => c.replace(/^\| /, '').replace(/ \|$/, ''));
			const [request, status, code, message] = cells.map((c) => c.replace(/`/g, ''));
			const fn = send[request] ?? (() => {
				const m = request.match(/^GET (\S+)$/);
				assert.ok(m, `no way to send "${request}"`);
				return L.req(srv, 'GET', m[1].replace('/ID/', `/${id}/`));
			});
			const r = await fn();
			const json = r.json ?? JSON.parse(r.body.toString());
			assert.equal(String(r.status), status, `${request}: status`);
			assert.equal(json.errors[0].code, code, `${request}: code`);
			assert.equal(json.errors[0].message, message, `${request}: message`);
		}
	} finally {
		await srv.kill();
	}
});

// The policy grammar `serve --help` shows is the one docs/MODERATION.md
// documents.
test('docs/MODERATION.md documents the policy syntax serve --help shows', { timeout: T }, async () => {
	const help = await L.runCli(['serve', '--help']);
	const m = help.stdout.match(/--moderation-policy.*?ordered rules "([^"]+)"/);
	assert.ok(m, help.stdout);
	const md = await fs.readFile(path.join(L.ROOT, 'docs', 'MODERATION.md'), 'utf8');
	assert.ok(md.includes('```\n' + m[1] + '\n```'), `MODERATION.md lacks the grammar ${m[1]}`);
});
