// typedoc plugin for the API reference (typedoc.json loads it).
//
// Overloads: TypeScript attaches a doc comment to one signature only, and the generated ops
// (lib/generated/) and many hand-written methods document the first overload and list the others
// below it. An overload without a comment of its own shows its first documented sibling's comment,
// so that the reference shows the summary on every signature and typedoc's notDocumented validation
// asks for one comment per function, not one per overload.
import { Converter, ReflectionKind } from 'typedoc';

export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const project = context.project;
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
    // An accessor's setter without a comment shares its getter's.
    for (const refl of project.getReflectionsByKind(ReflectionKind.Accessor)) {
      const get = refl.getSignature;
      const set = refl.setSignature;
      if (get?.comment && set && !set.comment) set.comment = get.comment.clone();
    }
  });
}
