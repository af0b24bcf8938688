// cases.mjs - the inputs test_ml_face checks, built from the corpus
// photos' RGB. test_ml_face.c builds the same bytes (collage(), crop()
// there): change both together.

// Several faces of different sizes on one mid-grey 1000x640 canvas: each
// photo subsampled by an integer step (pixel (x*step, y*step)) and pasted
// at (x, y), later pieces over earlier ones.
export const COLLAGE = {
	w: 1000, h: 640, grey: 96,
	pieces: [
		{ file: 'astronaut.png', step: 1, x: 0, y: 0 },
		{ file: 'grace_hopper.jpg', step: 2, x: 530, y: 10 },
		{ file: 'mona.png', step: 2, x: 760, y: 0 },
		{ file: 'grace_hopper.jpg', step: 3, x: 520, y: 420 },
		{ file: 'astronaut.png', step: 2, x: 720, y: 384 },
	],
};

// 256x256 crops at the model's resolution for the raw-output comparison.
export const RAW_CROPS = [
	{ file: 'astronaut.png', x0: 96, y0: 0 },
	{ file: 'grace_hopper.jpg', x0: 128, y0: 40 },
	{ file: 'mona.png', x0: 120, y0: 60 },
];

export function collage(images) {
	const { w, h, grey, pieces } = COLLAGE;
	const rgb = Buffer.alloc(w * h * 3, grey);
	for (const p of pieces) {
		const src = images[p.file];
		const pw = Math.ceil(src.w / p.step), ph = Math.ceil(src.h / p.step);
		for (let y = 0; y < ph && p.y + y < h; y++)
			for (let x = 0; x < pw && p.x + x < w; x++)
				for (let c = 0; c < 3; c++)
					rgb[((p.y + y) * w + p.x + x) * 3 + c] =
						src.rgb[((y * p.step) * src.w + x * p.step) * 3 + c];
	}
	return { rgb, w, h };
}

export function crop(img, x0, y0, cw, ch) {
	const out = Buffer.alloc(cw * ch * 3);
	for (let y = 0; y < ch; y++)
		img.rgb.copy(out, y * cw * 3, ((y0 + y) * img.w + x0) * 3, ((y0 + y) * img.w + x0 + cw) * 3);
	return out;
}
