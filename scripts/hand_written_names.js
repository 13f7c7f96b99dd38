// Lists the names lib/ defines by hand, per namespace, for scripts/gen_ops.py (which then does not
// generate them twice). Read from the TypeScript sources with the compiler API, so it needs no
// build: a name counts as hand-written when its declaration is outside lib/generated/.
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '..');
const lib = (f) => path.join(root, 'lib', f);
const cfg = ts.getParsedCommandLineOfConfigFile(
  path.join(root, 'tsconfig.json'),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic() {} },
);
const program = ts.createProgram([lib('index.ts')], cfg.options);
const checker = program.getTypeChecker();
const generated = (d) => d.getSourceFile().fileName.includes(`${path.sep}generated${path.sep}`);

function exportsOf(file) {
  const sf = program.getSourceFile(file);
  const sym = checker.getSymbolAtLocation(sf);
  return checker.getExportsOfModule(sym);
}
function handWritten(symbols) {
  const out = [];
  for (let s of symbols) {
    const name = s.getName();
    if (s.flags & ts.SymbolFlags.Alias) s = checker.getAliasedSymbol(s);
    const decls = s.getDeclarations() ?? [];
    if (decls.length && !decls.every(generated)) out.push(name);
  }
  return out.sort();
}
const torch = exportsOf(lib('index.ts'));
const member = (name) => {
  const s = torch.find((x) => x.getName() === name);
  if (!s) return [];
  const t = checker.getTypeOfSymbolAtLocation(s, program.getSourceFile(lib('index.ts')));
  return handWritten(t.getProperties());
};
const tensorSym = checker.getAliasedSymbol(torch.find((x) => x.getName() === 'Tensor'));
const tensorType = checker.getDeclaredTypeOfSymbol(tensorSym);
console.log(
  JSON.stringify({
    torch: handWritten(torch),
    tensor: handWritten(tensorType.getProperties()),
    F: handWritten(exportsOf(lib('nn/functional.ts'))),
    linalg: member('linalg'),
    special: member('special'),
    fft: member('fft'),
  }),
);
