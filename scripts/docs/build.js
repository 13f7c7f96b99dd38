#!/usr/bin/env node
// `npm run docs`: the documentation site (the guides of docs/guides/ and the API reference from the
// TSDoc of lib/index.ts's exports) into docs/site/, with typedoc (typedoc.json, plus the guide list
// below). Fails on an exported symbol without documentation, a broken {@link}, a relative link to a
// missing file, or a link of the built site to a missing local page or anchor (check-links.js).

const fs = require('node:fs');
const path = require('node:path');
const { checkLinks } = require('./check-links');

const root = path.resolve(__dirname, '..', '..');
/** The guides, in the order of the navigation. A guide that is not there yet is left out. */
const GUIDES = [
  'getting-started',
  'from-pytorch',
  'attention-masks',
  'memory',
  'async',
  'training',
  'checkpoints',
  'torchscript',
  'performance',
  'distributed',
  'libtorch',
  'development',
];

async function main() {
  const td = await import('typedoc');
  const guides = GUIDES.map((g) => `docs/guides/${g}.md`).filter((f) => fs.existsSync(path.join(root, f)));
  const unlisted = fs
    .readdirSync(path.join(root, 'docs', 'guides'))
    .filter((f) => f.endsWith('.md') && !GUIDES.includes(f.slice(0, -3)));
  if (unlisted.length) {
    console.error(`docs: guides not in scripts/docs/build.js's GUIDES list: ${unlisted.join(', ')}`);
    process.exit(1);
  }
  process.chdir(root);
  const app = await td.Application.bootstrapWithPlugins(
    { options: path.join(root, 'typedoc.json'), projectDocuments: guides },
    [new td.TypeDocReader(), new td.TSConfigReader()],
  );
  const t0 = Date.now();
  const project = await app.convert();
  if (!project) process.exit(1);
  app.validate(project);
  // treatWarningsAsErrors: typedoc's CLI applies it, its API leaves it to the caller
  if (app.logger.hasErrors() || app.logger.hasWarnings()) {
    console.error('docs: typedoc found the problems above');
    process.exit(1);
  }
  const out = app.options.getValue('out');
  await app.generateOutputs(project);
  if (app.logger.hasErrors() || app.logger.hasWarnings()) {
    console.error('docs: typedoc found the problems above');
    process.exit(1);
  }
  const { pages, links, broken } = checkLinks(out);
  for (const b of broken) console.error(`docs: broken link in ${path.relative(root, b.file)}: ${b.href} (${b.why})`);
  console.log(
    `docs: ${guides.length} guides, ${project.getReflectionsByKind(td.ReflectionKind.All).length} reflections, ${pages} pages, ${links} local links checked, ${broken.length} broken; ${path.relative(root, out)}/index.html (${Date.now() - t0} ms)`,
  );
  if (broken.length) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
