// typedoc plugin for the API reference (typedoc.json loads it).
//
// Overloads: TypeScript attaches a doc comment to one signature only, and the generated ops
// (lib/generated/) and many hand-written methods document the first overload and list the others
// below it. An overload without a comment of its own shows its first documented sibling's comment,
// so that the reference shows the summary on every signature and typedoc's notDocumented validation
// asks for one comment per function, not one per overload. An accessor's setter shares its getter's.
//
// Intersection members: typedoc drops the doc comments of the members of a type literal inside an
// intersection (the named-tuple results `[Tensor, Tensor] & { values: Tensor; ... }`); they are read
// back from the source: the `/** ... */` right before the member's declaration.
//
// Source locations: the reference says where each symbol is defined ("Defined in lib/x.ts:12"),
// without a link: the project has no public repository URL to link to, and typedoc's git
// detection warns (an error here) in a clone whose remote is a local path. typedoc.json sets
// disableGit with a placeholder sourceLinkTemplate, and the links are dropped below.
import fs from 'node:fs';
import { Comment, Converter, ReflectionKind } from 'typedoc';

export function load(app) {
  const texts = new Map();
  const sourceText = (file) => {
    if (!texts.has(file)) texts.set(file, fs.readFileSync(file, 'utf8').split('\n'));
    return texts.get(file);
  };
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const project = context.project;
    for (const refl of project.getReflectionsByKind(ReflectionKind.Property)) {
      if (refl.comment || !refl.parent?.kindOf(ReflectionKind.TypeLiteral)) continue;
      const src = refl.sources?.[0];
      if (!src?.fullFileName) continue;
      const lines = sourceText(src.fullFileName);
      // the text before the member's name: on its line, then on the lines above
      let before = lines[src.line - 1].slice(0, src.character).trimEnd();
      for (let l = src.line - 2; !before && l >= 0 && src.line - l < 20; l--) before = lines[l].trimEnd();
      if (!before.endsWith('*/')) continue;
      let text = before;
      for (let l = src.line - 2; !text.includes('/**') && l >= 0; l--) text = `${lines[l]}\n${text}`;
      const body = text.slice(text.lastIndexOf('/**') + 3, -2);
      const summary = body
        .split('\n')
        .map((x) => x.replace(/^\s*\*?\s?/, '').trimEnd())
        .join(' ')
        .trim();
      if (summary) refl.comment = new Comment([{ kind: 'text', text: summary }]);
    }
    for (const refl of project.getReflectionsByKind(
      ReflectionKind.SignatureContainer | ReflectionKind.Property | ReflectionKind.Variable,
    )) {
      const sigs = refl.signatures ?? refl.type?.declaration?.signatures;
      if (!sigs || sigs.length < 2) continue;
      const documented = sigs.find((s) => s.comment?.summary?.length);
      if (!documented) continue;
      for (const s of sigs) {
        if (!s.comment) s.comment = documented.comment.clone();
      }
    }
    for (const refl of Object.values(project.reflections)) {
      for (const src of refl.sources ?? []) src.url = undefined;
    }
    for (const refl of project.getReflectionsByKind(ReflectionKind.Accessor)) {
      const get = refl.getSignature;
      const set = refl.setSignature;
      if (get?.comment && set && !set.comment) set.comment = get.comment.clone();
    }
  });
}
