// face_wasm.mjs - time the same BlazeFace detector on TensorFlow.js's
// WebAssembly backend in Node (SIMD, no threads: one core), on the same
// RGB inputs as bench_face.c.
//
// Usage: node face_wasm.mjs NODE_MODULES MODEL_DIR ITERATIONS FILE.rgb:W:H...
// Prints key=value lines, per image: the model alone (execute + reading
// the four outputs back, on the prepared 256x256 input) and the whole
// detector of tests/data/face/pipeline.mjs (pad, resize, model, decoding,
// NMS), as mean and median, plus the backend's feature flags.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import * as P from '../../tests/data/face/pipeline.mjs';

const [nodeModules, modelDir, itersArg, ...inputs] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeModules), 'x.js'));
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const iters = Math.max(1, parseInt(itersArg || '20', 10));

console.warn = () => {}; // the "install tfjs-node" banner
wasm.setWasmPaths(path.join(path.resolve(nodeModules), '@tensorflow/tfjs-backend-wasm/dist') + path.sep);
await tf.setBackend('wasm');
await tf.ready();

const model = await P.loadModel(tf, modelDir);
const stats = (a) => {
	const s = [...a].sort((x, y) => x - y);
	return { mean: a.reduce((x, y) => x + y, 0) / a.length, median: s[s.length >> 1], min: s[0] };
};
const latModel = [], latAll = [];
let cpuModel = 0, cpuAll = 0; // process CPU time (ms); wasm computes on the main thread
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (const [k, arg] of inputs.entries()) {
	const [file, w, h] = arg.split(':');
	const rgb = fs.readFileSync(file);
	const [input] = P.prepare(tf, rgb, +w, +h);
	const runModel = () => {
		const outs = P.execute(model, input);
		for (const t of outs) t.dataSync();
		tf.dispose(outs);
	};
	const runAll = async () => {
		const [x] = P.prepare(tf, rgb, +w, +h);
		const faces = await P.detect(tf, model, x, { maxDetected: 32, iou: 0.1, minScore: 0.2 });
		x.dispose();
		return faces;
	};
	for (let i = 0; i < 3; i++) { runModel(); await runAll(); }
	for (let i = 0; i < iters; i++) {
		const t = performance.now(), u = cpu();
		runModel();
		cpuModel += cpu() - u;
		latModel.push(performance.now() - t);
	}
	let faces = [];
	for (let i = 0; i < iters; i++) {
		const t = performance.now(), u = cpu();
		faces = await runAll();
		cpuAll += cpu() - u;
		latAll.push(performance.now() - t);
	}
	console.log(`wasm_faces_${k}=${faces.length}`);
	input.dispose();
}
console.log(`wasm_model_cpu_ms=${(cpuModel / latModel.length).toFixed(3)}`);
console.log(`wasm_detect_cpu_ms=${(cpuAll / latAll.length).toFixed(3)}`);
const flags = tf.env().features;
console.log(`wasm_backend=${tf.getBackend()}`);
console.log(`wasm_simd=${flags.WASM_HAS_SIMD_SUPPORT}`);
console.log(`wasm_threads=${flags.WASM_HAS_MULTITHREAD_SUPPORT}`);
for (const [name, a] of [['model', latModel], ['detect', latAll]]) {
	const s = stats(a);
	console.log(`wasm_${name}_ms_mean=${s.mean.toFixed(3)}`);
	console.log(`wasm_${name}_ms_median=${s.median.toFixed(3)}`);
	console.log(`wasm_${name}_ms_min=${s.min.toFixed(3)}`);
}
