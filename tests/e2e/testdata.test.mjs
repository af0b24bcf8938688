// Every row of tests/data/README.md: the exact answer each upload must get,
// what is delivered for the accepted ones, and that rejections leave the
// server up, fast, memory-flat and with nothing stored.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as L from './lib.mjs';

const T = 60000 * L.TIME_SCALE;
const ok = (file, format, extra = {}) => ({ file, status: 201, format, width: 320, height: 320, frames: 1, ...extra });
const reject = (file, status, codes, extra = {}) => ({ file, status, codes, ...extra });

const ROWS = [
	ok('rgb.jpg', 'jpeg'),
	ok('progressive.jpg', 'jpeg'),
	ok('cmyk.jpg', 'jpeg'),
	ok('png16.png', 'png'),
	ok('gray-alpha.png', 'png', { alpha: true }),
	ok('interlaced.png', 'png'),
	ok('lossy.webp', 'webp'),
	ok('image.avif', 'avif'),
	ok('image.heic', 'heic'),
	ok('image.tif', 'tiff'),
	ok('exif-orientation-6.jpg', 'jpeg'),
	ok('exif-gps.jpg', 'jpeg'),
	ok('animated-12-frames.gif', 'gif', { width: 32, height: 32, frames: 12 }),
	ok('animated.webp', 'webp', { width: 32, height: 32, frames: 12 }),
	reject('bomb-png-30000x30000.png', 422, ['too_many_pixels'], { bomb: true }),
	reject('sof-65000x65000.jpg', 422, ['too_many_pixels', 'dimensions_too_large'], { bomb: true }),
	reject('wide-20000x1.png', 422, ['dimensions_too_large']),
	reject('truncated.jpg', 422, ['corrupt_image']),
	reject('zero-bytes.jpg', 400, ['empty_body']),
	reject('text-as-jpg.jpg', 415, ['unsupported_format'], { contentType: 'image/jpeg' }),
	reject('svg-with-script.svg', 415, ['unsupported_format'], { contentType: 'image/svg+xml' }),
	reject('fake-pdf.pdf', 415, ['unsupported_format']),
];

let srv;
const ids = {}; // file -> id of its accepted upload
let seq = 0;

before(async () => {
	srv = await L.startServer();
});
after(async () => {
	await srv?.kill();
});

async function listIds() {
	return (await L.listAll(srv, 1000)).map((r) => r.id);
}

// The server answers and still takes a normal upload.
async function assertStillServing(after) {
	const h = await L.req(srv, 'GET', '/healthz');
	assert.equal(h.status, 200, `after ${after}: /healthz: ${L.show(h)}`);
	const up = await L.upload(srv, L.makePng(24, 16, `after-${after}-${seq++}`), { filename: 'probe.png' });
	assert.equal(up.status, 201, `after ${after}: a normal upload: ${L.show(up)}`);
}

async function deliver(id, options, accept = 'image/jpeg') {
	const res = await L.req(srv, 'GET', `/img/${id}/${options}`, { headers: { Accept: accept } });
	assert.equal(res.status, 200, `delivery: ${L.show(res)}`);
	return res;
}

describe('uploads of tests/data/inputs', () => {
	for (const row of ROWS) {
		test(`${row.file} -> ${row.status}${row.codes ? ' ' + row.codes.join('|') : ''}`, { timeout: T }, async () => {
			const file = path.join(L.INPUTS, row.file);
			const beforeIds = row.status === 201 ? null : await listIds();
			const beforeBlobs = row.status === 201 ? null : L.blobNames(srv.dataDir);
			const mem0 = L.procStatus(srv.pid);
			const res = await L.upload(srv, file, row.contentType ? { contentType: row.contentType } : {});
			const mem1 = L.procStatus(srv.pid);

			assert.equal(res.status, row.status, L.show(res));
			assert.ok(res.json && typeof res.json === 'object', `JSON envelope expected: ${L.show(res)}`);
			assert.ok(res.headers.get('x-request-id'), 'X-Request-Id missing');
			if (row.status === 201) {
				assert.equal(res.json.success, true, L.show(res));
				assert.deepEqual(res.json.errors, [], L.show(res));
				const r = res.record;
				assert.equal(r.format, row.format, `format: ${L.show(res)}`);
				assert.equal(r.width, row.width, `width: ${L.show(res)}`);
				assert.equal(r.height, row.height, `height: ${L.show(res)}`);
				assert.equal(r.frames, row.frames, `frames: ${L.show(res)}`);
				assert.equal(r.bytes, res.sent.length);
				assert.equal(r.sha256, L.sha256(res.sent));
				assert.ok(L.blobNames(srv.dataDir).includes(r.sha256), 'the original is in the blob store');
				assert.equal(r.filename, row.file);
				if (row.alpha !== undefined) assert.equal(r.alpha, row.alpha, `alpha: ${L.show(res)}`);
				ids[row.file] = r.id;
				// the record reads back the same
				const g = await L.api(srv, 'GET', `/v1/images/${encodeURIComponent(r.id)}`);
				assert.equal(g.status, 200, L.show(g));
				assert.deepEqual(g.json.result, r);
				// and the default variant is deliverable
				await deliver(r.id, 'public', 'image/webp,image/*');
			} else {
				assert.equal(res.json.success, false, L.show(res));
				assert.equal(res.json.result, null, L.show(res));
				assert.ok(Array.isArray(res.json.errors) && res.json.errors.length >= 1, L.show(res));
				const code = L.errCode(res);
				assert.ok(row.codes.includes(code), `code ${code}, expected ${row.codes.join(' or ')}: ${L.show(res)}`);
				const msg = L.errMessage(res);
				assert.ok(typeof msg === 'string' && msg.length >= 5, `a human message expected: ${L.show(res)}`);
				if (row.bomb) {
					assert.ok(res.ms < 3000 * L.TIME_SCALE, `took ${res.ms.toFixed(0)} ms; expected a decision from the header`);
					const grown = (mem1.hwmKB - mem0.hwmKB) / 1024;
					assert.ok(grown < 100, `peak RSS grew by ${grown.toFixed(1)} MB (VmHWM ${mem0.hwmKB} -> ${mem1.hwmKB} kB)`);
					assert.ok(mem1.rssKB < 300 * 1024 * L.MEM_SCALE, `RSS ${mem1.rssKB} kB over ${300 * L.MEM_SCALE} MB`);
				}
				// nothing stored
				assert.deepEqual(await listIds(), beforeIds, 'the listing changed after a rejection');
				assert.deepEqual(L.blobNames(srv.dataDir), beforeBlobs, 'an original was stored after a rejection');
				await assertStillServing(row.file);
			}
		});
	}

	test('an empty raw body -> 400 empty_body', { timeout: T }, async () => {
		const res = await L.upload(srv, Buffer.alloc(0), { raw: true, filename: 'empty.jpg' });
		assert.equal(res.status, 400, L.show(res));
		assert.equal(L.errCode(res), 'empty_body', L.show(res));
		await assertStillServing('empty raw body');
	});

	test('text with Content-Type image/jpeg as raw body -> 415', { timeout: T }, async () => {
		const res = await L.upload(srv, path.join(L.INPUTS, 'text-as-jpg.jpg'), { raw: true, contentType: 'image/jpeg' });
		assert.equal(res.status, 415, L.show(res));
		assert.equal(L.errCode(res), 'unsupported_format', L.show(res));
	});

	test('the bombs again, both at once, memory stays flat', { timeout: T }, async () => {
		const m0 = L.procStatus(srv.pid);
		const rs = await Promise.all(['bomb-png-30000x30000.png', 'sof-65000x65000.jpg', 'bomb-png-30000x30000.png']
			.map((f) => L.upload(srv, path.join(L.INPUTS, f), { raw: true })));
		for (const r of rs) assert.equal(r.status, 422, L.show(r));
		const m1 = L.procStatus(srv.pid);
		assert.ok(m1.hwmKB - m0.hwmKB < 100 * 1024, `peak RSS grew ${m0.hwmKB} -> ${m1.hwmKB} kB`);
		await assertStillServing('bombs');
	});
});

describe('delivery of the accepted inputs', () => {
	const need = (file) => {
		const id = ids[file];
		assert.ok(id, `${file} was not uploaded (see its upload test)`);
		return id;
	};

	for (const f of ['jpeg', 'png', 'webp', 'avif']) {
		test(`rgb.jpg served as f=${f}`, { timeout: T }, async () => {
			const res = await deliver(need('rgb.jpg'), `f=${f}`, '*/*');
			assert.equal(res.headers.get('content-type'), `image/${f}`);
			const p = L.probe(res.body);
			assert.equal(p.format, f);
			assert.equal(p.width, 320);
			assert.equal(p.height, 320);
		});
	}

	test('every accepted input is deliverable as jpeg 100 wide', { timeout: T }, async () => {
		for (const row of ROWS.filter((r) => r.status === 201)) {
			const res = await deliver(need(row.file), 'w=100,f=jpeg');
			const p = L.probe(res.body);
			assert.equal(p.format, 'jpeg', row.file);
			assert.equal(p.width, Math.min(100, row.width), row.file);
		}
	});

	test('cmyk.jpg is delivered as sRGB with the right colours', { timeout: T }, async () => {
		const j = L.probe((await deliver(need('cmyk.jpg'), 'f=jpeg')).body);
		assert.equal(j.format, 'jpeg');
		assert.equal(j.components, 3, 'JPEG output must be 3-component (YCbCr), not CMYK');
		const cmyk = L.decodePng((await deliver(need('cmyk.jpg'), 'f=png')).body);
		const rgb = L.decodePng((await deliver(need('rgb.jpg'), 'f=png')).body);
		assert.equal(cmyk.channels, 3, 'PNG output of a CMYK JPEG must be RGB');
		const d = L.meanAbsDiff(cmyk, rgb);
		// through its ICC profile the CMYK file is ~15 off the RGB one; a
		// conversion that ignores the profile or inverts is 80+ off
		assert.ok(d < 30, `mean difference to rgb.jpg is ${d.toFixed(1)} (colours wrong)`);
	});

	test('png16.png is delivered as 8-bit PNG', { timeout: T }, async () => {
		const p = L.probe((await deliver(need('png16.png'), 'f=png')).body);
		assert.equal(p.format, 'png');
		assert.equal(p.bitDepth, 8);
		assert.equal(p.width, 320);
	});

	test('gray-alpha.png: f=jpeg works (flattened), f=auto without webp/avif gives PNG', { timeout: T }, async () => {
		const res = await deliver(need('gray-alpha.png'), 'f=jpeg', '*/*');
		assert.equal(res.headers.get('content-type'), 'image/jpeg');
		const p = L.probe(res.body);
		assert.equal(p.format, 'jpeg');
		assert.equal(p.width, 320);
		const png = await deliver(need('gray-alpha.png'), 'f=png');
		const pp = L.probe(png.body);
		assert.equal(pp.alpha, true, 'PNG output keeps the alpha channel');
	});

	test('exif-orientation-6.jpg is delivered upright, without orientation tag', { timeout: T }, async () => {
		const id = need('exif-orientation-6.jpg');
		const blob = await L.api(srv, 'GET', `/v1/images/${id}/blob`);
		const raw = L.probe(blob.body);
		const sq = await deliver(id, 'f=jpeg');
		const out = L.probe(sq.body);
		assert.equal(out.width, raw.height, 'width and height swapped');
		assert.equal(out.height, raw.width, 'width and height swapped');
		const ex = L.exif(sq.body);
		assert.ok(!ex || ex.orientation === undefined || ex.orientation === 1,
			`orientation tag ${ex?.orientation} in the output`);
		// the file holds rgb.jpg's pixels with orientation 6: upright means
		// rgb.jpg turned 90 degrees clockwise
		const o6 = L.decodePng((await deliver(id, 'f=png')).body);
		const rgb = L.decodePng((await deliver(need('rgb.jpg'), 'f=png')).body);
		const dRot = L.meanAbsDiff(o6, L.rot90cw(rgb));
		const dRaw = L.meanAbsDiff(o6, rgb);
		assert.ok(dRot < 15 && dRaw > 40, `not rotated: diff to rotated ${dRot.toFixed(1)}, to unrotated ${dRaw.toFixed(1)}`);
		// a non-square box shows the swap too
		const box = L.probe((await deliver(id, 'w=320,h=160,fit=cover,f=png')).body);
		assert.deepEqual([box.width, box.height], [320, 160]);
	});

	// exif-gps.jpg: GPSLatitude 48/1 51/1 756/25 as rationals, either byte order
	const lat = (le) => {
		const b = Buffer.alloc(24);
		[48, 1, 51, 1, 756, 25].forEach((v, i) => (le ? b.writeUInt32LE(v, i * 4) : b.writeUInt32BE(v, i * 4)));
		return b;
	};
	const hasGps = (buf) => Boolean(L.exif(buf)?.gps) || buf.includes(lat(false)) || buf.includes(lat(true));

	test('exif-gps.jpg: the input does carry GPS (sanity)', () => {
		assert.ok(hasGps(L.input('exif-gps.jpg')));
	});

	for (const [opts, accept] of [['public', 'image/jpeg'], ['public', 'image/webp'], ['f=jpeg', '*/*'],
		['w=100,f=jpeg', '*/*'], ['f=webp', '*/*'], ['f=png', '*/*'], ['f=avif', '*/*'], ['thumbnail', 'image/jpeg'],
		['metadata=copyright,f=jpeg', '*/*'], ['metadata=none,f=jpeg', '*/*']]) {
		test(`exif-gps.jpg: no GPS in /img/ID/${opts} (Accept ${accept})`, { timeout: T }, async () => {
			const res = await deliver(need('exif-gps.jpg'), opts, accept);
			assert.ok(!hasGps(res.body), `GPS data found in ${opts} output (${res.headers.get('content-type')})`);
			if (opts.includes('metadata=none')) {
				assert.ok(!res.body.includes('Test Artist') && !res.body.includes('CC0 test'), 'metadata=none keeps EXIF strings');
			}
		});
	}

	for (const opts of ['f=jpeg', 'metadata=copyright,f=jpeg']) {
		test(`exif-gps.jpg: /img/ID/${opts} keeps the Copyright tag only`, { timeout: T }, async () => {
			const res = await deliver(need('exif-gps.jpg'), opts, '*/*');
			assert.ok(res.body.includes('CC0 test'), 'metadata=copyright (the default) dropped the Copyright tag');
			assert.ok(!res.body.includes('Test Artist'), 'metadata=copyright (the default) keeps Artist');
		});
	}

	test('exif-gps.jpg: metadata=keep keeps GPS', { timeout: T }, async () => {
		const res = await deliver(need('exif-gps.jpg'), 'metadata=keep,f=jpeg');
		assert.ok(L.exif(res.body)?.gps, 'GPS IFD missing with metadata=keep');
		assert.ok(hasGps(res.body));
		assert.ok(res.body.includes('Test Artist'), 'Artist missing with metadata=keep');
	});

	test('animated-12-frames.gif: 12 frames kept by default, anim=false gives one', { timeout: T }, async () => {
		const id = need('animated-12-frames.gif');
		const anim = L.probe((await deliver(id, 'f=webp')).body);
		assert.equal(anim.format, 'webp');
		assert.equal(anim.frames, 12, 'f=webp keeps the 12 frames');
		assert.deepEqual([anim.width, anim.height], [32, 32]);
		const auto = L.probe((await deliver(id, 'public', 'image/webp,*/*')).body);
		assert.equal(auto.format, 'webp');
		assert.equal(auto.frames, 12, 'public (f=auto -> webp) keeps the 12 frames');
		const still = L.probe((await deliver(id, 'anim=false,f=webp')).body);
		assert.equal(still.frames, 1, 'anim=false gives one frame');
		assert.ok(!still.animated, 'anim=false output is not animated');
		const small = L.probe((await deliver(id, 'w=16,f=webp')).body);
		assert.equal(small.frames, 12, 'resizing keeps the frames');
		assert.deepEqual([small.width, small.height], [16, 16]);
	});

	test('animated.webp: 12 frames delivered', { timeout: T }, async () => {
		const p = L.probe((await deliver(need('animated.webp'), 'f=webp')).body);
		assert.equal(p.frames, 12);
		const one = L.probe((await deliver(need('animated.webp'), 'f=png')).body);
		assert.equal(one.format, 'png');
		assert.deepEqual([one.width, one.height], [32, 32], 'a still format gets one 32x32 frame');
	});

	test('the server is still healthy and lean after all of it', { timeout: T }, async () => {
		const h = await L.req(srv, 'GET', '/healthz');
		assert.equal(h.status, 200);
		assert.deepEqual(h.json, { status: 'ok' });
		const m = L.procStatus(srv.pid);
		assert.ok(m.rssKB < 300 * 1024 * L.MEM_SCALE, `RSS ${m.rssKB} kB`);
	});
});
