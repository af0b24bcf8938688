// pipeline.mjs - the reference face detector in TensorFlow.js: BlazeFace
// back (models/blazeface-back) with the pre- and post-processing of
// @vladmandic/human 3.3's src/face/blazeface.ts (face.detector.square =
// true), written out with the same TF.js operations in the same order.
// Used by make-golden.mjs (CPU backend, the exactness oracle) and by
// bench/face.mjs (wasm backend, the speed peer).
//
// Differences from human, all outside the compared numbers: boxes are
// mapped back to input pixels as (model * padded / 256 - pad), where
// human's code carries a known-wrong formula (marked TODO there); human's
// later 1.4x enlargement and squaring for its mesh model are not applied.
import fs from 'node:fs';
import path from 'node:path';

export const SIZE = 256;

// A graph model from model.json + its shard, through an in-memory IOHandler
// (no fetch, no file:// handler needed).
export async function loadModel(tf, dir) {
	const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
	const specs = [], bufs = [];
	for (const g of json.weightsManifest) {
		specs.push(...g.weights);
		for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
	}
	const all = Buffer.concat(bufs);
	const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
	return tf.loadGraphModel({
		load: async () => ({
			modelTopology: json.modelTopology, weightSpecs: specs, weightData,
			format: json.format, generatedBy: json.generatedBy,
			convertedBy: json.convertedBy, userDefinedMetadata: json.userDefinedMetadata,
		}),
	});
}

// human's facemeshutil.generateAnchors(256)
export function anchors() {
	const out = [];
	const spec = { strides: [SIZE / 16, SIZE / 8], anchors: [2, 6] };
	for (let i = 0; i < 2; i++) {
		const stride = spec.strides[i];
		const rows = Math.floor((SIZE + stride - 1) / stride);
		for (let y = 0; y < rows; y++)
			for (let x = 0; x < rows; x++)
				for (let n = 0; n < spec.anchors[i]; n++)
					out.push([stride * (x + 0.5), stride * (y + 0.5)]);
	}
	return out;
}

// Pad to a square and resize, as human: returns [input tensor, map] where
// map = [sx, sy, padx, pady] with input_x = model_x * sx - padx.
export function prepare(tf, rgb, w, h) {
	return tf.tidy(() => {
		const img = tf.tensor4d(Float32Array.from(rgb), [1, h, w, 3], 'float32');
		const xy = Math.max(w, h);
		const pad = [Math.floor((xy - w) / 2), Math.floor((xy - h) / 2)];
		const padded = tf.pad(img, [[0, 0], [pad[1], pad[1]], [pad[0], pad[0]], [0, 0]]);
		const resized = tf.image.resizeBilinear(padded, [SIZE, SIZE]);
		const div = tf.div(resized, tf.scalar(127.5, 'float32'));
		const norm = tf.sub(div, tf.scalar(1.0, 'float32'));
		return [norm, [(w + 2 * pad[0]) / SIZE, (h + 2 * pad[1]) / SIZE, pad[0], pad[1]]];
	});
}

// The model's four outputs sorted by size, as human sorts them:
// [scores 384, scores 512, regressors 384, regressors 512].
export function execute(model, input) {
	const res = model.execute(input);
	return res.sort((a, b) => a.size - b.size);
}

// Decode and NMS as human's getBoxes; returns faces in model pixels.
export async function detect(tf, model, input, { maxDetected = 32, iou = 0.1, minScore = 0.2 } = {}) {
	const t = {};
	const sorted = execute(model, input);
	t.concat384 = tf.concat([sorted[0], sorted[2]], 2);
	t.concat512 = tf.concat([sorted[1], sorted[3]], 2);
	t.concat = tf.concat([t.concat512, t.concat384], 1);
	t.batch = tf.squeeze(t.concat, [0]);
	tf.dispose(sorted);
	const inputSizeT = tf.scalar(SIZE, 'int32');
	const anchorsT = tf.tensor2d(anchors());
	t.boxStarts = tf.slice(t.batch, [0, 1], [-1, 2]);
	t.centers = tf.add(t.boxStarts, anchorsT);
	t.boxSizes = tf.slice(t.batch, [0, 3], [-1, 2]);
	t.boxSizesNormalized = tf.div(t.boxSizes, inputSizeT);
	t.centersNormalized = tf.div(t.centers, inputSizeT);
	t.halfBoxSize = tf.div(t.boxSizesNormalized, tf.scalar(2.0, 'float32'));
	t.starts = tf.sub(t.centersNormalized, t.halfBoxSize);
	t.ends = tf.add(t.centersNormalized, t.halfBoxSize);
	t.startNormalized = tf.mul(t.starts, inputSizeT);
	t.endNormalized = tf.mul(t.ends, inputSizeT);
	t.boxes = tf.concat2d([t.startNormalized, t.endNormalized], 1);
	t.logits = tf.slice(t.batch, [0, 0], [-1, 1]);
	t.sigmoid = tf.sigmoid(t.logits);
	t.scores = tf.squeeze(t.sigmoid);
	t.nms = await tf.image.nonMaxSuppressionAsync(t.boxes, t.scores, maxDetected, iou, minScore);
	const nms = await t.nms.array();
	const boxes = await t.boxes.array();
	const scores = await t.scores.data();
	const faces = [];
	for (const i of nms)
		if (scores[i] > minScore) faces.push({ anchor: i, model: boxes[i], score: scores[i] });
	tf.dispose(Object.values(t));
	tf.dispose([inputSizeT, anchorsT]);
	return faces;
}
