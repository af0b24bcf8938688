// The moderation policy's lifecycle: what the parser refuses, reloads on
// SIGHUP, the version on every verdict, the policy in the API and config.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const servers = [];
after(async () => {
	for (const s of servers) await s.kill();
});

const waitFor = (fn, ms = 20000) => L.waitFor(fn, ms);

describe('policy thresholds', () => {
	const bad = [
		['blk=block: drawing>=nan', /nan\\?" at line 1, column 21/],
		['blk=block: drawing>=inf', /inf\\?" at line 1, column 21/],
		['blk=block: drawing>=-infinity', /-infinity\\?" at line 1, column 21/],
		['ok=flag: porn>0.5;\n blk=block: drawing>=1.01', /1\.01\\?" at line 2, column 22/],
		['blk=block: drawing>=-0.2', /-0\.2\\?" at line 1, column 21/],
	];
	for (const [text, re] of bad) {
		test(`${JSON.stringify(text)} is refused by classify and serve`, { timeout: T }, async () => {
			const r = await L.runCli(['classify', '--moderation-policy', text, RGB]);
			assert.equal(r.code, 2, r.stderr);
			assert.match(r.stderr, re);
			assert.match(r.stderr, /not a number from 0 to 1/);
			await assert.rejects(L.startServer({ args: ['--moderation-policy', text] }), re);
		});
	}
});

describe('policy lifecycle', () => {
	test('SIGHUP reloads the policy from the configuration file; a broken file keeps the old one; verdicts carry the version', { timeout: T }, async () => {
		const dir = await L.tmpDir();
		const file = path.join(dir, 'pictor.json');
		fs.writeFileSync(file, JSON.stringify({ moderation_policy: 'look=flag: neutral>=0.5' }));
		const s = await L.startServer({ args: ['--config', file] });
		servers.push(s);
		let p = await L.api(s, 'GET', '/v1/moderation/policy');
		assert.equal(p.status, 200, L.show(p));
		assert.equal(p.json.result.text, 'look=flag: neutral>=0.5');
		const v1 = p.json.result.version;
		assert.match(v1, /^p-[0-9a-f]{12}$/);
		const a = await L.upload(s, RGB, { id: 'pol-a' });
		assert.equal(a.record.status, 'flagged');
		assert.equal(a.record.moderation.policy_version, v1);

		fs.writeFileSync(file, JSON.stringify({ moderation_policy: 'x=block: porn>=0.99' }));
		s.proc.kill('SIGHUP');
		p = await waitFor(async () => {
			const r = await L.api(s, 'GET', '/v1/moderation/policy');
			return r.json.result.version !== v1 && r;
		});
		const v2 = p.json.result.version;
		assert.equal(p.json.result.text, 'x=block: porn>=0.99');
		const b = await L.upload(s, path.join(L.CORPUS, 'coffee.png'), { id: 'pol-b' });
		assert.equal(b.record.status, 'approved');
		assert.equal(b.record.moderation.policy_version, v2);
		const audit = await L.api(s, 'GET', '/v1/audit?image=pol-a');
		assert.equal(audit.json.result.entries[0].after.rule, 'look');

		fs.writeFileSync(file, JSON.stringify({ moderation_policy: 'x=block: porn>=nan' }));
		s.proc.kill('SIGHUP');
		await waitFor(() => s.logs.some((l) => /policy not reloaded/.test(l.msg ?? '')));
		assert.match(JSON.stringify(s.logs.find((l) => /policy not reloaded/.test(l.msg ?? ''))), /nan/);
		p = await L.api(s, 'GET', '/v1/moderation/policy');
		assert.equal(p.json.result.version, v2, 'the previous policy stays');
		assert.equal((await L.req(s, 'GET', '/healthz')).status, 200);

		const def = await L.runCli(['config']);
		assert.match(def.stdout, /"moderation_policy": "block-explicit=block/);
	});
});
