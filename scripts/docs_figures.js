#!/usr/bin/env node
// Draws the README's figures with torch.viz (run after `npm run build`):
//   node scripts/docs_figures.js   → docs/images/mask_*.svg
// The three masks of one padded sequence-to-sequence batch (row 1 of the batch below): what each
// decoder query may attend to. Blue = allowed, hatched = blocked (the heatmap's masked cells).
const path = require('node:path');
const torch = require('..');

const { nn } = torch;
const out = path.join(__dirname, '..', 'docs', 'images');
const tgtLengths = [6, 4]; // target steps of each row (with <eos>)
const srcLengths = [5, 3]; // source tokens of each row
const T = 6;
const S = 5;
const row = 1;

const allowed = (blocked) => blocked.logicalNot().to('float32');
torch.tidy(() => {
  const causal = nn.masks.causal(T); // (T, T) true = blocked
  const tgtPad = nn.masks.keyPadding(tgtLengths, T); // (B, T) true = padded
  const srcPad = nn.masks.keyPadding(srcLengths, S); // (B, S)
  const self = causal.logicalOr(tgtPad.select(0, row).unsqueeze(0)); // both masks of the self-attention
  const labels = (n, p) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  const figures = [
    ['mask_causal.svg', allowed(causal), 'attnMask = nn.masks.causal(6): step i sees steps 0..i', 'y', 'y'],
    [
      'mask_target_padding.svg',
      allowed(self),
      `self-attention of row ${row}: causal + keyPadding([6, 4], 6)`,
      'y',
      'y',
    ],
    [
      'mask_source_padding.svg',
      allowed(srcPad.select(0, row).unsqueeze(0).expand([T, S])),
      `cross-attention of row ${row}: keyPaddingMask = keyPadding([5, 3], 5)`,
      'y',
      'x',
    ],
  ];
  for (const [file, w, title, rp, cp] of figures) {
    const f = torch.viz.writeSvg(
      path.join(out, file),
      torch.viz.attentionHeatmap(w, {
        title,
        rowLabels: labels(w.shape[0], rp),
        colLabels: labels(w.shape[1], cp),
        cellSize: 26,
      }),
    );
    console.log(`wrote ${path.relative(process.cwd(), f)}`);
  }
});
