// make-golden.mjs - TF.js reference outputs for test_ml_face.
//
// Usage: node make-golden.mjs NODE_MODULES MODEL_DIR RGB_DIR OUT_DIR
// RGB_DIR holds <file>.rgb and sizes.txt ("<file> <w> <h>" lines) from
// dump_rgb. Writes OUT_DIR/expected.json (the detector's faces on each
// case, in model pixels and in input pixels) and OUT_DIR/raw-<name>.f32
// (the model's four outputs, little-endian float32, for a 256x256 crop:
// scores 512, scores 384, regressors 512x16, regressors 384x16).
// TF.js 4.22.0, CPU backend, float32: see make-golden.sh.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import * as P from './pipeline.mjs';
import { COLLAGE, RAW_CROPS, collage, crop } from './cases.mjs';

const [nodeModules, modelDir, rgbDir, outDir] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeModules), 'x.js'));
const tf = require('@tensorflow/tfjs');
await tf.setBackend('cpu');
await tf.ready();

const images = {};
for (const line of fs.readFileSync(path.join(rgbDir, 'sizes.txt'), 'utf8').split('\n')) {
	const [file, w, h] = line.trim().split(/\s+/);
	if (!file) continue;
	images[file] = { rgb: fs.readFileSync(path.join(rgbDir, file + '.rgb')), w: +w, h: +h };
}

const model = await P.loadModel(tf, modelDir);
const opts = { maxDetected: 32, iou: 0.1, minScore: 0.2 };
const out = {
	tfjs: tf.version.tfjs, backend: tf.getBackend(), model: 'blazeface-back',
	min_score: opts.minScore, iou: opts.iou, max: opts.maxDetected, cases: [], raw: [],
};

const cases = Object.keys(images).sort().map((f) => ({ name: f, ...images[f] }));
cases.push({ name: 'collage', ...collage(images) });
for (const c of cases) {
	const [input, map] = P.prepare(tf, c.rgb, c.w, c.h);
	const faces = await P.detect(tf, model, input, opts);
	input.dispose();
	out.cases.push({
		name: c.name, w: c.w, h: c.h, map,
		faces: faces.map((f) => ({
			anchor: f.anchor, score: f.score, model: f.model,
			box: [f.model[0] * map[0] - map[2], f.model[1] * map[1] - map[3],
				(f.model[2] - f.model[0]) * map[0], (f.model[3] - f.model[1]) * map[1]],
		})),
	});
	console.log(c.name, c.w + 'x' + c.h, faces.length, 'faces',
		faces.map((f) => f.score.toFixed(3) + '@' + f.model.map((v) => v.toFixed(1)).join(',')).join(' '));
}

for (const r of RAW_CROPS) {
	const img = images[r.file];
	const rgb = crop(img, r.x0, r.y0, P.SIZE, P.SIZE);
	const [input] = P.prepare(tf, rgb, P.SIZE, P.SIZE);
	const sorted = P.execute(model, input);
	// file order: scores 512, scores 384, regressors 512, regressors 384
	const parts = [sorted[1], sorted[0], sorted[3], sorted[2]].map((t) => t.dataSync());
	const n = parts.reduce((a, p) => a + p.length, 0);
	const all = new Float32Array(n);
	let o = 0;
	for (const p of parts) { all.set(p, o); o += p.length; }
	const name = 'raw-' + r.file.replace(/\..*$/, '') + '.f32';
	fs.writeFileSync(path.join(outDir, name), Buffer.from(all.buffer));
	out.raw.push({ file: r.file, x0: r.x0, y0: r.y0, data: name, values: n });
	tf.dispose([input, ...sorted]);
}
fs.writeFileSync(path.join(outDir, 'expected.json'), JSON.stringify(out, null, 1) + '\n');
