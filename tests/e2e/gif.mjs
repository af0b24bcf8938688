// Building animated GIFs in tests from GIFs Pictor encoded: the first
// image of a GIF (gifFrame) and an animation joined from such frames
// (joinGif), each frame with its own colour table.

import assert from 'node:assert/strict';

// The first image of a GIF: its colour table (global or local) and the
// image descriptor's flags and LZW data.
export function gifFrame(buf) {
	assert.equal(buf.toString('latin1', 0, 3), 'GIF');
	const w = buf.readUInt16LE(6);
	const h = buf.readUInt16LE(8);
	let p = 13;
	let table = null;
	if (buf[10] & 0x80) {
		const n = 3 << ((buf[10] & 7) + 1);
		table = { bits: buf[10] & 7, bytes: buf.subarray(p, p + n) };
		p += n;
	}
	const skipBlocks = () => {
		while (buf[p] !== 0) p += buf[p] + 1;
		p++;
	};
	for (;;) {
		const b = buf[p];
		if (b === 0x21) {
			p += 2;
			skipBlocks();
		} else if (b === 0x2c) {
			const flags = buf[p + 9];
			p += 10;
			if (flags & 0x80) {
				const n = 3 << ((flags & 7) + 1);
				table = { bits: flags & 7, bytes: buf.subarray(p, p + n) };
				p += n;
			}
			const start = p;
			p++; // LZW minimum code size
			skipBlocks();
			return { w, h, interlace: flags & 0x40, table, data: buf.subarray(start, p) };
		} else {
			throw new Error(`unexpected GIF block 0x${b.toString(16)}`);
		}
	}
}

export function joinGif(frames) {
	const { w, h } = frames[0];
	const parts = [Buffer.from('GIF89a', 'latin1')];
	const lsd = Buffer.alloc(7);
	lsd.writeUInt16LE(w, 0);
	lsd.writeUInt16LE(h, 2);
	parts.push(lsd); // no global colour table
	parts.push(Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0', 'latin1'), 0x03, 0x01, 0x00, 0x00, 0x00]));
	for (const f of frames) {
		assert.equal(f.w, w);
		assert.equal(f.h, h);
		parts.push(Buffer.from([0x21, 0xf9, 0x04, 0x04, 0x0a, 0x00, 0x00, 0x00]));
		const d = Buffer.alloc(10);
		d[0] = 0x2c;
		d.writeUInt16LE(w, 5);
		d.writeUInt16LE(h, 7);
		d[9] = 0x80 | f.interlace | f.table.bits;
		parts.push(d, f.table.bytes, f.data);
	}
	parts.push(Buffer.from([0x3b]));
	return Buffer.concat(parts);
}
