// Checks the links of a built site: every href/src that points to a local file must name a file
// that exists, and every #anchor an id (or name) in that file. External links (http:, mailto:, ...)
// are not fetched. Usage: node scripts/docs/check-links.js [docs/site]

const fs = require('node:fs');
const path = require('node:path');

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Returns {pages, links, broken: [{file, href, why}]} for the site in `dir`. */
function checkLinks(dir) {
  const files = walk(dir);
  const html = files.filter((f) => f.endsWith('.html'));
  const ids = new Map(); // file -> Set of ids
  const idsOf = (f) => {
    if (!ids.has(f)) {
      const text = fs.readFileSync(f, 'utf8');
      const set = new Set();
      for (const m of text.matchAll(/\s(?:id|name)="([^"]*)"/g)) set.add(decode(m[1]));
      ids.set(f, set);
    }
    return ids.get(f);
  };
  const broken = [];
  let links = 0;
  for (const file of html) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
      const href = decode(m[1]);
      if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) continue; // external
      links++;
      const [p, frag] = splitHash(href.split('?')[0]);
      const target = p === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(p));
      if (!fs.existsSync(target)) {
        broken.push({ file, href, why: 'no such file' });
        continue;
      }
      if (frag && target.endsWith('.html') && !idsOf(target).has(decodeURIComponent(frag))) {
        broken.push({ file, href, why: `no anchor '${frag}' in ${path.relative(dir, target)}` });
      }
    }
  }
  return { pages: html.length, links, broken };
}

function splitHash(s) {
  const i = s.indexOf('#');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

function decode(s) {
  return s
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

module.exports = { checkLinks };

if (require.main === module) {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'docs', 'site'));
  const r = checkLinks(dir);
  for (const b of r.broken) console.error(`broken link in ${path.relative(dir, b.file)}: ${b.href} (${b.why})`);
  console.log(`check-links: ${r.pages} pages, ${r.links} local links, ${r.broken.length} broken`);
  process.exit(r.broken.length ? 1 : 0);
}
