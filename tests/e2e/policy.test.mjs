// The moderation policy's lifecycle: what the parser refuses.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 120000 * L.TIME_SCALE;
const RGB = path.join(L.INPUTS, 'rgb.jpg');
const servers = [];
after(async () => {
	for (const s of servers) await s.kill();
});

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
