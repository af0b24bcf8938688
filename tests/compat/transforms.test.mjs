// transforms.test.mjs - Pictor's transforms against sharp, option by option.
//
// sharp (npm, pinned in package.json) runs libvips underneath but through
// an independent pipeline of its own. For every option, a grid of values
// and several photos of the corpus, this suite runs Pictor's transform
// (build/compat/pictor-transform, a thin CLI over px_image_transform) and
// builds the same result with sharp, one step at a time in Cloudflare's
// order (orientation, trim, flip, rotate, resize, crop, pad, brightness
// and contrast, gamma, saturation, sharpen, blur, border), with the
// geometry computed here from Cloudflare's rules. Then:
//
//   - the dimensions (and frame counts) must be equal, exactly;
//   - SSIM >= 0.98 (8x8 windows, step 4, on R, G, B composited over grey
//     and on alpha; the worst channel counts; a flat plane is scored by
//     its largest difference instead, see flat()), unless a case says why
//     it is looser, right next to it. A lossy output may instead come
//     within LOSSY_MARGIN of sharp's own encode of the same pixels.
//
// The per-option case count and worst SSIM go to build/compat-ssim.json
// (docs/TRANSFORMS.md quotes the table).
//
// Run: node --test tests/compat/   (install.sh is run first, from here)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const CLI = path.join(ROOT, 'build/compat/pictor-transform');
const CORPUS = process.env.PICTOR_CORPUS || path.join(ROOT, 'build/corpus');
const INPUTS = path.join(ROOT, 'tests/data/inputs');
const REPORT = path.join(ROOT, 'build/compat-ssim.json');
const MIN_SSIM = 0.98;
const LOSSY_MARGIN = 0.02;
const JOBS = Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));

execFileSync('bash', [path.join(HERE, 'install.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
const require = createRequire(path.join(HERE, 'package.json'));
const sharp = require('sharp');
sharp.cache(false);
sharp.concurrency(1);

let tmp;
const files = {};          // name -> path of a prepared input
const report = {};         // option -> { cases, worst, worstCase, tolerance }

// ---------------------------------------------------------------------
// Inputs: photos of the corpus at moderate sizes, and derived ones.

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pictor-compat-'));
  const out = (n) => path.join(tmp, n);
  const src = (n) => path.join(CORPUS, n);
  await sharp(src('Garden.jpg')).resize(640).jpeg({ quality: 92 }).toFile(out('garden.jpg'));
  await sharp(src('Storm.jpg')).resize(600).jpeg({ quality: 92 }).toFile(out('storm.jpg'));
  fs.copyFileSync(src('chelsea.png'), out('chelsea.png'));
  await sharp(src('coffee.png')).resize(480).png().toFile(out('coffee.png'));
  // alpha: a transparent wallpaper
  await sharp(src('Arc-Colors-Transparent-Wallpaper.png')).resize(560).png()
    .toFile(out('arc.png'));
  // a uniform border around a photo, for trim=border
  await sharp(out('coffee.png')).resize(300)
    .extend({ top: 13, right: 9, bottom: 21, left: 6, background: '#1e8c3c' })
    .png().toFile(out('bordered.png'));
  // EXIF orientation 6 on unturned pixels
  await sharp(out('garden.jpg')).withMetadata({ orientation: 6 }).jpeg({ quality: 92 })
    .toFile(out('oriented.jpg'));
  // colour profiles: pixels converted to and tagged with P3, CMYK
  await sharp(out('garden.jpg')).withIccProfile('p3').jpeg({ quality: 92 }).toFile(out('p3.jpg'));
  await sharp(out('storm.jpg')).withIccProfile('cmyk').jpeg({ quality: 92 }).toFile(out('cmyk.jpg'));
  const a98 = '/usr/share/color/icc/ghostscript/a98.icc';
  if (fs.existsSync(a98))
    await sharp(out('garden.jpg')).withIccProfile(a98).jpeg({ quality: 92 }).toFile(out('adobe.jpg'));
  // 16 bits per channel
  await sharp(out('chelsea.png')).toColourspace('rgb16').png().toFile(out('rgb16.png'));
  for (const n of fs.readdirSync(tmp)) files[n.replace(/\.\w+$/, '')] = out(n);
  files.gif = path.join(INPUTS, 'animated-12-frames.gif');
  files.awebp = path.join(INPUTS, 'animated.webp');
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(REPORT), { recursive: true });
  fs.writeFileSync(REPORT, JSON.stringify({
    generated: new Date().toISOString(),
    sharp: sharp.versions.sharp,
    sharpLibvips: sharp.versions.vips,
    minSsim: MIN_SSIM,
    options: report,
  }, null, 2) + '\n');
});

const PHOTOS = ['garden', 'storm', 'chelsea', 'coffee', 'arc'];

// ---------------------------------------------------------------------
// Pictor

// sharp sets VIPSHOME for its own libvips; Pictor's libvips would then
// look for its loadable modules (HEIF among them) in the wrong place.
const CLI_ENV = { ...process.env };
delete CLI_ENV.VIPSHOME;

function pictor(file, settings, { describe = false } = {}) {
  const args = [...(describe ? ['--describe'] : []), file,
    ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)];
  return new Promise((resolve, reject) => {
    execFile(CLI, args, { encoding: 'buffer', maxBuffer: 256 << 20, env: CLI_ENV }, (err, stdout, stderr) => {
      const text = stderr.toString();
      if (err) return reject(new Error(`pictor-transform ${args.join(' ')}: ${text || err.message}`));
      if (describe) return resolve(JSON.parse(stdout.toString()));
      const m = text.match(/^info (.*)$/m);
      resolve({ buf: stdout, info: m ? JSON.parse(m[1]) : null });
    });
  });
}

// ---------------------------------------------------------------------
// The reference: Cloudflare's rules written out here, pixels by sharp.

const raw = async (img) => {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
};
const img = (r) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });
const hasAlpha = (r) => r.channels === 4 || r.channels === 2;
const hex = (s) => {
  const v = s.replace('#', '');
  return { r: parseInt(v.slice(0, 2), 16), g: parseInt(v.slice(2, 4), 16), b: parseInt(v.slice(4, 6), 16),
           alpha: v.length >= 8 ? parseInt(v.slice(6, 8), 16) / 255 : 1 };
};
const FMT_ALPHA = { jpeg: false, png: true, webp: true, avif: true, gif: true };

function dim(v) {
  const r = Math.floor(v + 0.5);
  return r < 1 ? 1 : r;
}

// Cloudflare's fit modes (docs/TRANSFORMS.md, "Fit").
function plan(iw, ih, o) {
  const w = o.w || 0, h = o.h || 0, fit = o.fit || 'scale-down';
  const sw = w / iw, sh = h / ih;
  const g = {};
  if (!w && !h) {
    g.rw = iw; g.rh = ih;
  } else if (!w || !h) {
    let s = w ? sw : sh;
    if ((fit === 'scale-down' || fit === 'crop') && s > 1) s = 1;
    g.rw = w && s === sw ? w : dim(iw * s);
    g.rh = h && s === sh ? h : dim(ih * s);
  } else if (fit === 'squeeze') {
    g.rw = w; g.rh = h;
  } else if (fit === 'cover' || fit === 'crop') {
    let s = Math.max(sw, sh);
    if (fit === 'crop' && s > 1) s = 1;
    g.rw = dim(iw * s); g.rh = dim(ih * s);
    if (fit === 'cover') { g.rw = Math.max(g.rw, w); g.rh = Math.max(g.rh, h); }
    g.cw = Math.min(w, g.rw); g.ch = Math.min(h, g.rh);
    g.ow = g.cw; g.oh = g.ch;
    return g;
  } else {
    let s = Math.min(sw, sh);
    if (fit === 'scale-down' && s > 1) s = 1;
    g.rw = s === sw ? w : dim(iw * s);
    g.rh = s === sh ? h : dim(ih * s);
    if (fit === 'pad') { g.cw = g.rw; g.ch = g.rh; g.ow = w; g.oh = h; return g; }
  }
  g.cw = g.ow = g.rw; g.ch = g.oh = g.rh;
  return g;
}

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

async function reference(file, o, page) {
  const fmt = o.f || 'jpeg';
  // Upright, colour-managed to sRGB, 8 bits.
  // (For CMYK, sharp's default path departs from the embedded profile;
  // pipelineColourspace makes it convert with the profile, as Pictor
  // does. Elsewhere it would add a round trip through lcms.)
  const opts = page === undefined ? {} : { page };
  let dec = sharp(file, opts);
  if ((await sharp(file, opts).metadata()).space === 'cmyk') dec = dec.pipelineColourspace('srgb');
  let r = await raw(dec.rotate().toColourspace('srgb'));
  // trim
  if (o['trim.border']) {
    const opts = { threshold: Number(o['trim.tolerance'] || 0) };
    if (o['trim.color']) opts.background = '#' + o['trim.color'];
    const { info } = await img(r).trim(opts).raw().toBuffer({ resolveWithObject: true });
    const keep = Number(o['trim.keep'] || 0);
    const l = clamp(-info.trimOffsetLeft - keep, 0, r.width);
    const t = clamp(-info.trimOffsetTop - keep, 0, r.height);
    const rr = clamp(-info.trimOffsetLeft + info.width + keep, 0, r.width);
    const bb = clamp(-info.trimOffsetTop + info.height + keep, 0, r.height);
    r = await raw(img(r).extract({ left: l, top: t, width: rr - l, height: bb - t }));
  } else if (o.trim) {
    const [t, rt, b, l] = o.trim.split(';').map(Number);
    r = await raw(img(r).extract({ left: l, top: t, width: r.width - l - rt, height: r.height - t - b }));
  }
  // flip, then rotate
  if (o.flip) {
    let s = img(r);
    if (o.flip.includes('h')) s = s.flop();
    if (o.flip.includes('v')) s = s.flip();
    r = await raw(s);
  }
  if (o.rotate) r = await raw(img(r).rotate(Number(o.rotate)));
  // resize, crop, pad
  const g = plan(r.width, r.height, o);
  if (g.rw !== r.width || g.rh !== r.height)
    r = await raw(img(r).resize(g.rw, g.rh, { fit: 'fill', kernel: 'lanczos3' }));
  if (g.cw !== g.rw || g.ch !== g.rh) {
    const grav = o.gravity || 'auto';
    if (grav === 'auto' || grav === 'face') {
      r = await raw(img(r).resize(g.cw, g.ch, { fit: 'cover', position: sharp.strategy.attention }));
    } else {
      let fx = 0.5, fy = 0.5;
      if (grav === 'left') fx = 0; else if (grav === 'right') fx = 1;
      else if (grav === 'top') fy = 0; else if (grav === 'bottom') fy = 1;
      else if (grav.includes('x')) [fx, fy] = grav.split('x').map(Number);
      const left = clamp(Math.round(fx * g.rw - g.cw / 2), 0, g.rw - g.cw);
      const top = clamp(Math.round(fy * g.rh - g.ch / 2), 0, g.rh - g.ch);
      r = await raw(img(r).extract({ left, top, width: g.cw, height: g.ch }));
    }
  }
  const bg = hex(o.bg || 'ffffffff');
  const bgOpaque = { r: bg.r, g: bg.g, b: bg.b, alpha: 1 };
  const srcAlpha = hasAlpha(r);
  const pad = g.ow !== g.cw || g.oh !== g.ch;
  const bordered = !!o.border && o.border.split(';').some((v) => Number(v) > 0);
  const bc = hex(o['border.color'] || '000000ff');
  const outAlpha = FMT_ALPHA[fmt] && (srcAlpha || (pad && bg.alpha < 1) || (bordered && bc.alpha < 1));
  if (srcAlpha && !FMT_ALPHA[fmt]) r = await raw(img(r).flatten({ background: bgOpaque }));
  if (pad) {
    let s = img(r);
    if (outAlpha && !hasAlpha(r)) { s = s.ensureAlpha(); }
    const left = Math.floor((g.ow - g.cw) / 2), top = Math.floor((g.oh - g.ch) / 2);
    r = await raw(s);
    r = await raw(img(r).extend({ left, top, right: g.ow - g.cw - left, bottom: g.oh - g.ch - top,
      background: hasAlpha(r) ? bg : bgOpaque }));
  }
  // colour
  const b = Number(o.brightness ?? 1), c = Number(o.contrast ?? 1);
  if (b !== 1 || c !== 1) r = await raw(img(r).linear(b * c, 128 * (1 - c)));
  const gm = Number(o.gamma ?? 1);
  if (gm !== 1) r = await raw(gm >= 1 ? img(r).gamma(gm, 1) : img(r).gamma(1, 1 / gm));
  const sat = Number(o.saturation ?? 1);
  if (sat !== 1) r = await raw(img(r).modulate({ saturation: sat }));
  if (Number(o.sharpen || 0) > 0)
    r = await raw(img(r).sharpen({ sigma: 1, m1: 0, m2: Number(o.sharpen), x1: 2, y2: 10, y3: 20 }));
  if (Number(o.blur || 0) > 0) r = await raw(img(r).blur(Number(o.blur) / 2));
  if (bordered) {
    const [t, rt, bt, l] = o.border.split(';').map(Number);
    let s = img(r);
    if (outAlpha && !hasAlpha(r)) s = s.ensureAlpha();
    r = await raw(s);
    const a = bc.alpha;
    const colour = hasAlpha(r) ? bc : {
      r: Math.round(bc.r * a + bg.r * (1 - a)), g: Math.round(bc.g * a + bg.g * (1 - a)),
      b: Math.round(bc.b * a + bg.b * (1 - a)), alpha: 1 };
    r = await raw(img(r).extend({ top: t, right: rt, bottom: bt, left: l, background: colour }));
  }
  return r;
}

// sharp's own encode of the reference, as Pictor's settings ask.
async function encodeLike(r, o) {
  const q = o.q ? Number(o.q) : undefined;
  const s = img(r);
  switch (o.f || 'jpeg') {
    case 'jpeg': return s.jpeg({ quality: q ?? 85, progressive: !o.baseline && !o.fast,
                                 optimiseCoding: !o.fast, chromaSubsampling: (q ?? 85) >= 90 ? '4:4:4' : '4:2:0' }).toBuffer();
    case 'webp': return s.webp({ quality: q ?? 80, lossless: q === 100, effort: o.fast ? 0 : 2 }).toBuffer();
    case 'avif': return s.avif({ quality: q ?? 50, effort: o.fast ? 0 : 2,
                                 chromaSubsampling: (q ?? 50) >= 90 ? '4:4:4' : '4:2:0' }).toBuffer();
    case 'gif': return s.gif({ effort: o.fast ? 1 : 7 }).toBuffer();
    default: return s.png({ palette: q !== undefined && q < 100, quality: q }).toBuffer();
  }
}

// ---------------------------------------------------------------------
// SSIM: 8x8 windows moved by 4, on R, G, B composited over mid grey
// (so that colour hidden under transparency does not count) and on alpha.

function ssimPlane(a, b, w, h) {
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2, N = 8, step = 4;
  let sum = 0, n = 0;
  if (w < N || h < N) {
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    return 1 - d / 255;
  }
  for (let y = 0; y + N <= h; y += step) {
    for (let x = 0; x + N <= w; x += step) {
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let j = 0; j < N; j++) {
        let k = (y + j) * w + x;
        for (let i = 0; i < N; i++, k++) {
          const p = a[k], q = b[k];
          sa += p; sb += q; saa += p * p; sbb += q * q; sab += p * q;
        }
      }
      const m = N * N, ma = sa / m, mb = sb / m;
      const va = saa / m - ma * ma, vb = sbb / m - mb * mb, cov = sab / m - ma * mb;
      sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
      n++;
    }
  }
  return sum / n;
}

function planes(r) {
  const { width: w, height: h, channels: ch, data } = r;
  const out = [new Float64Array(w * h), new Float64Array(w * h), new Float64Array(w * h), new Float64Array(w * h)];
  for (let i = 0; i < w * h; i++) {
    const grey = ch <= 2;
    const rr = data[i * ch], gg = grey ? rr : data[i * ch + 1], bb = grey ? rr : data[i * ch + 2];
    const a = ch === 4 ? data[i * ch + 3] : ch === 2 ? data[i * ch + 1] : 255;
    const f = a / 255;
    out[0][i] = rr * f + 128 * (1 - f);
    out[1][i] = gg * f + 128 * (1 - f);
    out[2][i] = bb * f + 128 * (1 - f);
    out[3][i] = a;
  }
  return out;
}

// On a flat plane (both standard deviations under 2 levels: a one-colour
// frame, an opaque alpha) SSIM measures only rounding noise, and near
// black it punishes a difference of 3 levels as 0.6; such a plane scores
// 1 - (largest difference)/255 instead.
function flat(p) {
  let s = 0, ss = 0;
  for (let i = 0; i < p.length; i++) { s += p[i]; ss += p[i] * p[i]; }
  const m = s / p.length;
  return ss / p.length - m * m < 4;
}

function ssim(x, y) {
  assert.equal(x.width, y.width, 'width');
  assert.equal(x.height, y.height, 'height');
  const px = planes(x), py = planes(y);
  let worst = 1;
  for (let c = 0; c < 4; c++) {
    let v;
    if (flat(px[c]) && flat(py[c])) {
      let d = 0;
      for (let i = 0; i < px[c].length; i++) d = Math.max(d, Math.abs(px[c][i] - py[c][i]));
      v = 1 - d / 255;
    } else {
      v = ssimPlane(px[c], py[c], x.width, x.height);
    }
    worst = Math.min(worst, v);
  }
  return worst;
}

// ---------------------------------------------------------------------
// Cases

async function pool(items, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) { const i = next++; results[i] = await fn(items[i], i); }
  };
  await Promise.all(Array.from({ length: Math.min(JOBS, items.length) }, worker));
  return results;
}

// One option: every (photo, settings) pair; tol may loosen a case, with
// the reason given where the case is declared.
async function runOption(name, photos, grid, { tol = MIN_SSIM, margin = LOSSY_MARGIN, why } = {}) {
  const cases = [];
  for (const p of photos) for (const s of grid) cases.push({ p, s: { f: 'png', ...s } });
  const failures = [];
  let worst = 1, worstCase = '', peerWorst = 1, lossyCases = 0;
  await pool(cases, async ({ p, s }) => {
    const label = `${p} ${Object.entries(s).map(([k, v]) => `${k}=${v}`).join(',')}`;
    try {
      const [{ buf, info }, ref] = await Promise.all([pictor(files[p], s), reference(files[p], s)]);
      const lossy = (s.f !== 'png' && !(s.f === 'webp' && Number(s.q) === 100)) ||
                    (s.f === 'png' && s.q && Number(s.q) < 100);
      const got = await raw(sharp(buf));
      assert.equal(info.width, ref.width, `${label}: width`);
      assert.equal(info.height, ref.height, `${label}: height`);
      assert.equal(got.width, ref.width, `${label}: decoded width`);
      assert.equal(got.height, ref.height, `${label}: decoded height`);
      const v = ssim(got, ref);
      if (v < worst) { worst = v; worstCase = label; }
      // A lossy output is held to the truth (the uncompressed reference)
      // like any other, or, failing that, to within LOSSY_MARGIN of what
      // sharp's own encoder makes of the same pixels with the same
      // settings: the encoders' loss is theirs, not the pipeline's.
      let peer = 1;
      if (lossy) {
        peer = ssim(await raw(sharp(await encodeLike(ref, s))), ref);
        peerWorst = Math.min(peerWorst, peer);
        lossyCases++;
      }
      if (v < tol && !(lossy && v >= peer - margin))
        failures.push(`${label}: SSIM ${v.toFixed(4)} < ${tol}` +
                      (lossy ? ` and < sharp's ${peer.toFixed(4)} - ${margin}` : ''));
    } catch (e) {
      failures.push(`${label}: ${e.message}`);
    }
  });
  report[name] = { cases: cases.length, worst: Number(worst.toFixed(4)), worstCase, tolerance: tol,
                   ...(lossyCases ? { sharpWorst: Number(peerWorst.toFixed(4)), lossyMargin: margin } : {}),
                   ...(why ? { why } : {}) };
  assert.deepEqual(failures, [], failures.join('\n'));
}

test('resize and fit', () => runOption('fit', PHOTOS, [
  { w: 300, h: 200, fit: 'scale-down' }, { w: 300, h: 200, fit: 'contain' },
  { w: 300, h: 200, fit: 'cover', gravity: 'center' }, { w: 300, h: 200, fit: 'crop', gravity: 'center' },
  { w: 300, h: 200, fit: 'pad', bg: 'ff0000ff' }, { w: 300, h: 200, fit: 'squeeze' },
  { w: 900, h: 700, fit: 'contain' }, { w: 900, h: 700, fit: 'cover', gravity: 'center' },
  { w: 900, h: 700, fit: 'crop', gravity: 'center' }, { w: 900, h: 700, fit: 'scale-down' },
  { w: 250 }, { h: 180, fit: 'contain' },
]));

test('gravity', () => runOption('gravity', PHOTOS, [
  { w: 200, h: 200, fit: 'cover', gravity: 'left' }, { w: 200, h: 200, fit: 'cover', gravity: 'right' },
  { w: 400, h: 120, fit: 'cover', gravity: 'top' }, { w: 400, h: 120, fit: 'cover', gravity: 'bottom' },
  { w: 200, h: 200, fit: 'cover', gravity: '0.2x0.8' }, { w: 200, h: 200, fit: 'cover', gravity: 'auto' },
]));

test('background and pad', () => runOption('background', PHOTOS, [
  { w: 400, h: 400, fit: 'pad', bg: '2040c0ff' },
  { w: 400, h: 400, fit: 'pad', bg: '00000000' },
  { w: 400, h: 400, fit: 'pad', bg: '2040c080', f: 'jpeg', q: 95 },
]));

test('rotate', () => runOption('rotate', PHOTOS, [
  { rotate: 90 }, { rotate: 180 }, { rotate: 270 }, { rotate: 90, w: 200 }, { rotate: 270, w: 300, h: 100, fit: 'cover', gravity: 'center' },
]));

test('flip', () => runOption('flip', PHOTOS, [
  { flip: 'h' }, { flip: 'v' }, { flip: 'hv' }, { flip: 'h', rotate: 90 }, { flip: 'v', rotate: 270, w: 250 },
]));

test('trim', () => runOption('trim', PHOTOS, [
  { trim: '10;20;30;40' }, { trim: '0;100;0;100' }, { trim: '50;0;0;0', w: 200 },
  { trim: '10;20;30;40', rotate: 90, w: 150, h: 150, fit: 'cover', gravity: 'center' },
  { trim: '100;100;100;100', w: 600, fit: 'contain' },
]));

test('trim=border', () => runOption('trim.border', ['bordered'], [
  { 'trim.border': 1 }, { 'trim.border': 1, 'trim.keep': 4 },
  { 'trim.border': 1, 'trim.color': '1e8c3c' }, { 'trim.border': 1, 'trim.tolerance': 20, w: 150 },
]));

test('border', () => runOption('border', PHOTOS, [
  { border: '5;5;5;5', 'border.color': 'ff0000ff' }, { border: '1;10;3;20', 'border.color': '00ff0080', w: 200 },
  { border: '8;8;8;8', 'border.color': '0000ffff', f: 'jpeg', q: 95 },
]));

test('brightness', () => runOption('brightness', PHOTOS, [
  { brightness: 0.5 }, { brightness: 0.8 }, { brightness: 1.3 }, { brightness: 2 },
]));

test('contrast', () => runOption('contrast', PHOTOS, [
  { contrast: 0.5 }, { contrast: 0.8 }, { contrast: 1.5 }, { contrast: 2 },
]));

test('gamma', () => runOption('gamma', PHOTOS, [
  { gamma: 0.5 }, { gamma: 0.8 }, { gamma: 1.5 }, { gamma: 2.2 },
]));

test('saturation', () => runOption('saturation', PHOTOS, [
  { saturation: 0 }, { saturation: 0.5 }, { saturation: 1.5 }, { saturation: 2 },
]));

test('sharpen', () => runOption('sharpen', PHOTOS, [
  { sharpen: 1, w: 300 }, { sharpen: 3 }, { sharpen: 10 },
]));

// blur above radius 20 (sigma 10) runs shrunk, blurred and enlarged back
// (image.c, op_blur); sharp blurs at full size: equal to the eye, and
// measured within 0.98 as well.
test('blur', () => runOption('blur', PHOTOS, [
  { blur: 1 }, { blur: 5 }, { blur: 20 }, { blur: 50 }, { blur: 250 },
]));

test('combined', () => runOption('combined', PHOTOS, [
  { trim: '5;6;7;8', flip: 'h', rotate: 90, w: 240, h: 160, fit: 'cover', gravity: 'center',
    brightness: 1.1, contrast: 1.2, gamma: 0.9, saturation: 1.3, sharpen: 1, border: '2;2;2;2', 'border.color': 'ffffffff' },
  { w: 300, fit: 'pad', h: 300, bg: '000000ff', saturation: 0, blur: 3, border: '4;0;4;0', 'border.color': 'ff8000ff' },
]));

// Lossy encoders: Pictor's libvips 8.14 (libjpeg-turbo, libwebp, aom via
// libheif, cgif) against the truth; the peer is sharp's bundled 8.15
// (mozjpeg, newer libwebp, aom and cgif) encoding the same reference
// pixels with the same settings (see LOSSY_MARGIN in runOption). GIF is
// tried on opaque photos only: it has one bit of alpha.
test('format jpeg', () => runOption('format=jpeg', PHOTOS, [
  { f: 'jpeg', q: 90 }, { f: 'jpeg', q: 95, baseline: 1 }, { f: 'jpeg', q: 90, fast: 1, w: 300 },
]));

test('format webp', () => runOption('format=webp', PHOTOS, [
  { f: 'webp', q: 90 }, { f: 'webp', q: 100 }, { f: 'webp', q: 85, fast: 1, w: 300 },
]));

test('format avif', () => runOption('format=avif', ['garden', 'chelsea', 'arc'], [
  { f: 'avif', q: 70, w: 320 }, { f: 'avif', q: 60, fast: 1, w: 320 },
]));

test('format gif', () => runOption('format=gif', ['chelsea', 'coffee'], [
  { f: 'gif', w: 240 }, { f: 'gif', w: 240, fast: 1 },
]));

// Palettes: Debian's libimagequant 2.17 against the quantiser sharp
// bundles; on the half-transparent gradients of arc.png the two dither
// the alpha differently, 0.027 apart: margin 0.05 for this case.
test('png palette', () => runOption('format=png,q', ['chelsea', 'arc'], [
  { f: 'png', q: 80, w: 300 },
], { margin: 0.05, why: 'two palette quantisers dithering alpha gradients' }));

test('colour profiles and depth', () => runOption('colour', ['p3', 'cmyk', 'rgb16', 'oriented', ...(files.adobe ? ['adobe'] : [])], [
  {}, { w: 300 }, { f: 'webp', q: 100, w: 320 },
]));

// Animated inputs, frame by frame: Pictor's output decoded per page
// against the still pipeline run on each source page.
test('animation', async () => {
  const grid = [
    { f: 'webp', q: 100, rotate: 90, trim: '2;3;4;5', border: '1;1;1;1', 'border.color': 'ff0000ff' },
    { f: 'webp', q: 100, flip: 'hv', w: 48, brightness: 1.2 },
    { f: 'webp', q: 100, w: 20, h: 20, fit: 'cover', gravity: 'center', blur: 2 },
  ];
  const failures = [];
  let worst = 1, worstCase = '', n = 0;
  for (const p of ['gif', 'awebp']) {
    for (const s of grid) {
      const label = `${p} ${JSON.stringify(s)}`;
      const { buf, info } = await pictor(files[p], s);
      const meta = await sharp(buf, { pages: -1 }).metadata();
      const src = await sharp(files[p], { pages: -1 }).metadata();
      assert.equal(info.frames, src.pages, `${label}: frames`);
      assert.equal(meta.pages, src.pages, `${label}: encoded frames`);
      assert.deepEqual(meta.delay, src.delay, `${label}: delays`);
      assert.equal(meta.loop, src.loop, `${label}: loop`);
      for (let i = 0; i < src.pages; i++) {
        const ref = await reference(files[p], s, i);
        const got = await raw(sharp(buf, { page: i }));
        n++;
        try {
          const v = ssim(got, ref);
          if (v < worst) { worst = v; worstCase = `${label} frame ${i}`; }
          if (v < MIN_SSIM) {
            let d = 0;
            for (let k = 0; k < got.data.length; k++) d = Math.max(d, Math.abs(got.data[k] - ref.data[k]));
            failures.push(`${label} frame ${i}: SSIM ${v.toFixed(4)} (largest difference ${d}/255, ` +
                          `channels ${got.channels}/${ref.channels})`);
          }
        } catch (e) {
          failures.push(`${label} frame ${i}: ${e.message}`);
        }
      }
    }
  }
  report.animation = { cases: n, worst: Number(worst.toFixed(4)), worstCase, tolerance: MIN_SSIM };
  assert.deepEqual(failures, [], failures.join('\n'));
});

// format=json: px_image_describe must say what the transform produces.
test('describe agrees with transform', async () => {
  const grid = [
    { w: 300, h: 200, fit: 'pad', bg: '00000000', f: 'png' }, { rotate: 90, trim: '1;2;3;4', f: 'webp', border: '3;3;3;3' },
    { 'trim.border': 1, f: 'avif', w: 100 }, { w: 2000, fit: 'contain', max: 700, f: 'jpeg' },
  ];
  let n = 0;
  for (const p of ['garden', 'arc', 'bordered', 'oriented', 'gif']) {
    for (const s of grid) {
      const d = await pictor(files[p], s, { describe: true });
      const { buf, info } = await pictor(files[p], s);
      const meta = await sharp(buf, { pages: -1 }).metadata();
      assert.deepEqual(d.out, info, `${p} ${JSON.stringify(s)}`);
      assert.equal(meta.width, d.out.width);
      assert.equal(meta.pageHeight ?? meta.height, d.out.height);
      n++;
    }
  }
  report.describe = { cases: n, worst: null, worstCase: '', tolerance: null };
});
