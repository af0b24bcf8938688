// nsfwjs_wasm.mjs - time nsfwjs 4.4.0 on TensorFlow.js's WebAssembly
// backend in Node, on the same 224x224 RGB inputs as bench_model.c.
//
// Usage: node nsfwjs_wasm.mjs NODE_MODULES_DIR INPUT_DIR ITERATIONS
// Prints key=value lines: ms per image for nsfwjs.classify() (which skips
// its resize for 224x224 input) and for the bare model.predict() on the
// prepared tensor, plus the wasm backend's feature flags.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const [nodeModules, inputDir, itersArg] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeModules), 'x.js'));
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const nsfwjs = require('nsfwjs');
const iters = Math.max(1, parseInt(itersArg || '5', 10));

// keep the console.info banner of nsfwjs.load out of the results
console.info = () => {};

const wasmDir = path.join(path.resolve(nodeModules),
	'@tensorflow/tfjs-backend-wasm/dist') + path.sep;
wasm.setWasmPaths(wasmDir);
await tf.setBackend('wasm');
await tf.ready();

const files = fs.readdirSync(inputDir).filter((f) => f.endsWith('.rgb')).sort();
const images = files.map((f) => {
	const b = fs.readFileSync(path.join(inputDir, f));
	if (b.length !== 224 * 224 * 3) throw new Error(f + ': not 224x224 RGB');
	return tf.tensor3d(new Int32Array(b), [224, 224, 3], 'int32');
});

const t0 = performance.now();
const model = await nsfwjs.load('MobileNetV2Mid');
const loadMs = performance.now() - t0;

// warm up: every input once
for (const img of images) await model.classify(img, 5);

let t = performance.now();
for (let i = 0; i < iters; i++)
	for (const img of images) await model.classify(img, 5);
const classifyMs = (performance.now() - t) / (iters * images.length);

const prepared = images.map((img) =>
	tf.tidy(() => img.toFloat().div(255).reshape([1, 224, 224, 3])));
for (const x of prepared) tf.tidy(() => model.model.predict(x).dataSync());
t = performance.now();
for (let i = 0; i < iters; i++)
	for (const x of prepared)
		tf.tidy(() => model.model.predict(x).dataSync());
const predictMs = (performance.now() - t) / (iters * prepared.length);

const flags = tf.env().features;
console.log(`wasm_backend=${tf.getBackend()}`);
console.log(`wasm_simd=${flags.WASM_HAS_SIMD_SUPPORT}`);
console.log(`wasm_threads=${flags.WASM_HAS_MULTITHREAD_SUPPORT}`);
console.log(`wasm_images=${images.length}`);
console.log(`wasm_load_ms=${loadMs.toFixed(1)}`);
console.log(`wasm_ms_per_image_classify=${classifyMs.toFixed(3)}`);
console.log(`wasm_ms_per_image_predict=${predictMs.toFixed(3)}`);
