#!/usr/bin/python3
"""Generates lib/generated/*.ts: the torch.*, Tensor, torch.nn.functional, torch.linalg,
torch.special and torch.fft surface of every ATen operator PyTorch exposes in Python.

Source of truth: libtorch's own `native_functions.yaml` (shipped with torchgen in python3-torch)
for the operators, their overloads and variants; PyTorch's Python modules for which names are
public and for the one-line summary of each. At run time the calls are resolved against the
schemas the running libtorch has registered (lib/aten.ts), so 1.13 and 2.x each expose what they
have: a name this libtorch lacks throws a clear TypeError when called.

The output is committed and byte-for-byte reproducible (sorted, no timestamps); a fresh clone
builds without python3-torch. Names lib/ defines by hand are not generated twice
(scripts/hand_written_names.js reads them from the TypeScript sources):

    /usr/bin/python3 scripts/gen_ops.py            # writes lib/generated/*.ts
    /usr/bin/python3 scripts/gen_ops.py --check    # exits 1 when they differ from what it would write
"""
import inspect
import json
import os
import re
import subprocess
import sys

import torch
import torch.nn.functional as F
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YAML = os.path.join(os.path.dirname(__import__("torchgen").__file__), "packaged", "ATen", "native", "native_functions.yaml")
OUT = os.path.join(ROOT, "lib", "generated")
DOCS = "https://pytorch.org/docs/stable"

RESERVED = set(
    "break case catch class const continue debugger default delete do else enum export extends false finally for "
    "function if import in instanceof new null return super switch this throw true try typeof var void while with "
    "yield let static implements interface package private protected public await arguments eval".split()
)
# Overloads Python does not bind (torchgen's SKIP_PYTHON_BINDINGS_SIGNATURES); lib/aten.ts skips them too.
SKIPPED = {"add.Scalar", "add_.Scalar", "sub.Scalar", "sub_.Scalar", "mul.Scalar", "mul_.Scalar", "div.Scalar", "div_.Scalar"}
NUMBERS_AS_TENSORS = {
    "add", "add_", "div", "div_", "divide", "divide_", "mul", "mul_", "multiply", "multiply_", "sub", "sub_",
    "subtract", "subtract_", "true_divide", "true_divide_", "to", "copy_", "floor_divide", "floor_divide_",
}
UNSUPPORTED = {"Dimname", "Storage", "Stream", "QScheme", "ConstQuantizerPtr", "Any"}
# Names PyTorch's Python binding hides (torchgen's SKIP_PYTHON_BINDINGS) or that are not ops a user calls.
HIDDEN = re.compile(r"(.*_backward|.*_backward_(out|input|weight|bias)|.*_forward|.*_forward_out|.*_jvp|.*_overrideable)$")


def camel(s):
    return re.sub(r"_+([a-z0-9])", lambda m: m.group(1).upper(), s)


def ident(s):
    c = camel(s)
    return c + "_" if c in RESERVED else c


# ---- schema parsing (the yaml's `func:` strings use the same grammar as the dispatcher's) --------
def split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_type(t):
    write = "!" in t
    text = re.sub(r"\([^)]*\)", "", t)
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(\?)?(?:\[(\d*)\])?(\?)?$", text)
    if not m:
        return dict(base=text, list=False, size=None, elem_opt=False, opt=False, write=write, text=text)
    lst = m.group(3) is not None
    return dict(
        base=m.group(1),
        list=lst,
        size=int(m.group(3)) if lst and m.group(3) else None,
        elem_opt=lst and m.group(2) == "?",
        opt=(m.group(4) == "?") if lst else (m.group(2) == "?"),
        write=write,
        text=text,
    )


def parse_func(func):
    open_ = func.index("(")
    depth, close = 0, open_
    for i in range(open_, len(func)):
        if func[i] == "(":
            depth += 1
        elif func[i] == ")":
            depth -= 1
            if depth == 0:
                close = i
                break
    name_part = func[:open_]
    args_text = func[open_ + 1 : close]
    ret = func[close + 1 :].strip()
    ret = ret[2:] if ret.startswith("->") else "()"
    name, _, overload = name_part.partition(".")
    args, kw = [], False
    for part in split_top(args_text):
        if part == "*":
            kw = True
            continue
        decl, eq, dflt = part.partition("=")
        typ, _, nm = decl.strip().rpartition(" ")
        args.append(dict(name=nm, type=parse_type(typ), kw=kw, default=dflt if eq else None))
    ret = ret.strip()
    if ret.startswith("(") and ret.endswith(")"):
        ret = ret[1:-1]
    rets = []
    for r in split_top(ret):
        typ, sp, nm = r.rpartition(" ")
        rets.append(dict(name=nm, type=parse_type(typ)) if sp and ")" not in nm else dict(name=None, type=parse_type(r)))
    out_args = [a["name"] for a in args if a["kw"] and a["type"]["write"] and a["type"]["base"] == "Tensor"]
    return dict(name=name, overload=overload, args=args, returns=rets, out=out_args, func=func)


# ---- TypeScript types --------------------------------------------------------------------------
TS_BASE = {
    "Tensor": "Tensor",
    "int": "number",
    "SymInt": "number",
    "float": "number",
    "bool": "boolean",
    "Scalar": "Scalar",
    "str": "string",
    "ScalarType": "DType",
    "Layout": "'strided'",
    "Device": "Device",
    "MemoryFormat": "MemoryFormat",
    "Generator": "Generator",
}


def ts_type(t, numbers):
    one = TS_BASE.get(t["base"], "never")
    if t["base"] == "Tensor" and numbers and not t["list"] and not t["write"]:
        one = "Tensor | Scalar"
    if t["list"]:
        elem = f"({one} | null)" if t["elem_opt"] else (f"({one})" if "|" in one else one)
        s = f"readonly {elem}[]"
        if t["size"] is not None and t["base"] not in ("Tensor", "bool"):
            s = f"{one} | {s}"
    else:
        s = one
    # a Generator parameter takes null too, optional or not (the global generator, as PyTorch's None)
    if t["opt"] or (t["base"] == "Generator" and not t["list"]):
        s += " | null"
    return s


def ts_return(rets):
    def one(r):
        t = r["type"]
        base = {"Tensor": "Tensor", "int": "number", "SymInt": "number", "float": "number", "bool": "boolean",
                "Scalar": "number", "ScalarType": "DType", "str": "string"}.get(t["base"], "unknown")
        if t["list"]:
            return f"({base} | null)[]" if t["elem_opt"] else f"{base}[]"
        return base + (" | null" if t["opt"] else "")

    if not rets:
        return "void"
    if len(rets) == 1:
        return one(rets[0])
    tup = "[" + ", ".join(one(r) for r in rets) + "]"
    if all(r["name"] for r in rets):
        # each field documented as the element it names (typedoc's reference lists them)
        fields = "; ".join(f"/** Element {i} of the result. */ {r['name']}: {one(r)}" for i, r in enumerate(rets))
        return "NamedResult<" + tup + ", { " + fields + " }>"
    return tup


def signature(s, method, numbers, outs=()):
    """One TS call signature: positional parameters as in PyTorch, then one options object."""
    params = [a for a in s["args"] if a["name"] not in s["out"]]
    if method:
        params = [a for a in params if a["name"] != "self"]
    pos = [a for a in params if not a["kw"]]
    # a parameter is optional if it and every later positional one may be left out
    optional_from = len(pos)
    for i in range(len(pos) - 1, -1, -1):
        a = pos[i]
        if a["default"] is not None or a["type"]["opt"] or a["type"]["base"] == "Generator":
            optional_from = i
        else:
            break
    kws = [a for a in params if a["name"] != "self"]
    fields = [f"{camel(a['name'])}?: {ts_type(a['type'], numbers)}" for a in kws]
    # PyTorch's out= (and named outs such as topk's values/indices): the function forms take them
    fields += [f"{camel(o)}?: Tensor" for o in outs if camel(o) not in {camel(a["name"]) for a in kws}]
    options = "options?: { " + "; ".join(fields) + " }" if fields else "options?: Record<string, never>"
    ret = ts_return(s["returns"])

    def param(i, a):
        nm = "input" if a["name"] == "self" else ident(a["name"])
        return f"{nm}{'?' if i >= optional_from else ''}: {ts_type(a['type'], numbers)}"

    # the options object may follow any prefix of the positional parameters that leaves out only
    # optional ones (x.sum(1, {keepdim: true}), x.sum({dim: 1, keepdim: true}))
    sigs = []
    for k in range(len(pos), -1, -1):
        if k < min(optional_from, len(pos)):
            continue
        sigs.append("(" + ", ".join([param(i, a) for i, a in enumerate(pos[:k])] + [options]) + "): " + ret)
    # varargs: x.flip(0, 1), x.permute(1, 0), x.view(2, 3) (an int list as the only positional parameter)
    if len(pos) == 1 and pos[0]["type"]["list"] and pos[0]["type"]["base"] in ("int", "SymInt"):
        sigs.insert(0, f"(...{ident(pos[0]['name'])}: number[]): {ret}")
    return sigs


def usable(s):
    key = s["name"] + ("." + s["overload"] if s["overload"] else "")
    if key in SKIPPED or s["out"]:
        return False
    return not any(a["type"]["base"] in UNSUPPORTED for a in s["args"])


# ---- docs -------------------------------------------------------------------------------------
def summary(obj):
    doc = inspect.getdoc(obj) or ""
    paras = [p.strip() for p in doc.split("\n\n") if p.strip()]
    for p in paras:
        first = p.splitlines()[0]
        if re.match(r"^[\w.]+\(.*\)(\s*->.*)?$", first):
            p = "\n".join(p.splitlines()[1:]).strip()  # a signature line, maybe followed by the text
            if not p:
                continue
        if p.startswith("See ") or p.startswith(".. "):
            continue
        text = " ".join(p.split())
        text = re.sub(r":(attr|func|class|meth|math|ref|mod):`~?([^`]*)`", r"`\2`", text)
        text = text.replace("``", "`")
        m = re.match(r"(.+?\.)(\s|$)", text)
        text = m.group(1) if m else text
        return text.replace("*/", "*\\/")
    return ""


# Operators PyTorch documents under a module class rather than a function page.
MODULE_DOCS = {
    "lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN",
    "lstm_cell": "LSTMCell", "gru_cell": "GRUCell", "rnn_tanh_cell": "RNNCell", "rnn_relu_cell": "RNNCell",
}
YAML_URL = "https://github.com/pytorch/pytorch/blob/v{}/aten/src/ATen/native/native_functions.yaml"


def op_doc(name, obj, url, display):
    """The one-line summary and documentation link of a generated op: PyTorch's own docstring; for an
    in-place `x_` without one, its out-of-place twin's; else the docstring of the same operator under
    torch.nn.functional, Tensor or an nn module; else, for internals PyTorch does not document, the
    schema file that defines the operator."""
    text = summary(obj) if obj is not None else ""
    if text:
        return text, url
    base = name[:-1] if name.endswith("_") else None
    prefix = display.rsplit(".", 1)[0] if "." in display else "torch"
    if base and hasattr(torch, base) and summary(getattr(torch, base)):
        base_url = f"{DOCS}/generated/torch.{base}.html" if not display.startswith("Tensor.") else url
        return f"In-place version of `{prefix}.{camel(base)}`: {lower_first(summary(getattr(torch, base)))}", base_url
    if hasattr(F, name) and summary(getattr(F, name)):
        return summary(getattr(F, name)), f"{DOCS}/generated/torch.nn.functional.{name}.html"
    see = re.search(r"See :class:`~?torch\.nn\.(\w+)`", inspect.getdoc(getattr(F, name, None)) or "")
    if see and summary(getattr(torch.nn, see.group(1), None)):
        cls = see.group(1)
        return f"The function form of `nn.{cls}`: {lower_first(summary(getattr(torch.nn, cls)))}", f"{DOCS}/generated/torch.nn.functional.{name}.html"
    if hasattr(torch.Tensor, name) and summary(getattr(torch.Tensor, name)):
        return summary(getattr(torch.Tensor, name)), f"{DOCS}/generated/torch.Tensor.{name}.html"
    if name in MODULE_DOCS:
        cls = MODULE_DOCS[name]
        return f"The kernel behind `nn.{cls}`: {lower_first(summary(getattr(torch.nn, cls)))}", f"{DOCS}/generated/torch.nn.{cls}.html"
    if base and hasattr(torch.Tensor, base) and summary(getattr(torch.Tensor, base)):
        return f"In-place version of `{display[:-1]}`: {lower_first(summary(getattr(torch.Tensor, base)))}", f"{DOCS}/generated/torch.Tensor.{base}.html"
    version = torch.__version__.split("+")[0].split("a")[0]
    return (
        f"The ATen operator `aten::{name}`, which PyTorch does not document (an internal or backend-specific kernel); its schema is in libtorch's native_functions.yaml.",
        YAML_URL.format(version),
    )


def lower_first(text):
    return text[0].lower() + text[1:] if text and not text[:2].isupper() else text


def jsdoc(text, url):
    lines = []
    if text:
        lines.append(text)
    lines.append(f"[PyTorch's documentation]({url})")
    return "/** " + " ".join(lines) + " */"


# ---- collect --------------------------------------------------------------------------------
def hand_written():
    """The names lib/ defines by hand, per namespace (read from the TypeScript sources)."""
    out = subprocess.run(["node", os.path.join(ROOT, "scripts", "hand_written_names.js")], capture_output=True, text=True, check=True)
    return {k: set(v) for k, v in json.loads(out.stdout).items()}


def main():
    with open(YAML) as f:
        entries = yaml.safe_load(f)
    by_name = {}
    for e in entries:
        s = parse_func(e["func"])
        s["variants"] = [v.strip() for v in e.get("variants", "function").split(",")]
        s["module"] = e.get("python_module")
        by_name.setdefault(s["name"], []).append(s)
    hand = hand_written()

    def overloads(name, method):
        ss = [s for s in by_name.get(name, []) if usable(s) and ("method" if method else "function") in s["variants"]]
        if not method:
            ss = [s for s in by_name.get(name, []) if usable(s) and ("function" in s["variants"] or s["module"])]
        # the out arguments of the name's out overloads (the same for each of its overloads)
        outs = [] if method else sorted({o for x in by_name.get(name, []) for o in x["out"]})
        sigs, seen = [], set()
        for s in ss:
            for sig in signature(s, method, name in NUMBERS_AS_TENSORS, outs):
                if sig not in seen:
                    seen.add(sig)
                    sigs.append(sig)
        return sigs

    def public(name):
        return not name.startswith("_") and not HIDDEN.match(name)

    # torch.*: function variants without a python_module, that torch exposes
    torch_fns = sorted(
        n for n, ss in by_name.items()
        if public(n) and hasattr(torch, n) and any("function" in s["variants"] and not s["module"] for s in ss)
        and camel(n) not in hand["torch"] and overloads(n, False)
    )
    methods = sorted(
        n for n, ss in by_name.items()
        if (public(n) or n.endswith("_") and public(n[:-1])) and hasattr(torch.Tensor, n)
        and any("method" in s["variants"] for s in ss) and camel(n) not in hand["tensor"] and overloads(n, True)
    )
    # torch.nn.functional: names F binds directly to an ATen op (builtins); Python-level F functions
    # with their own signatures are written by hand in lib/nn/
    f_fns = sorted(
        n for n in dir(F)
        if public(n) and n in by_name and inspect.isbuiltin(getattr(F, n)) and camel(n) not in hand["F"]
        and overloads(n, False)
    )
    spaces = {}
    for ns, mod in (("linalg", torch.linalg), ("special", torch.special), ("fft", torch.fft)):
        names = sorted(
            n for n, ss in by_name.items()
            if n.startswith(ns + "_") and any(s["module"] == ns for s in ss) and hasattr(mod, n[len(ns) + 1 :])
            and camel(n[len(ns) + 1 :]) not in hand[ns] and overloads(n, False)
        )
        spaces[ns] = (mod, names)

    os.makedirs(OUT, exist_ok=True)
    header = (
        "// Generated by scripts/gen_ops.py from libtorch's native_functions.yaml (torch "
        + torch.__version__.split("+")[0]
        + "). Do not edit.\n"
    )
    imports = (
        "import { type NamedResult, opFunction } from '../aten';\n"
        "import type { Device } from '../device';\n"
        "import type { DType } from '../dtype';\n"
        "import type { Generator } from '../generator';\n"
        "import type { MemoryFormat, Scalar, Tensor } from '../tensor';\n"
    )

    def fn_const(js, name, display, doc_obj, url, method=False):
        sigs = overloads(name, method)
        body = "{\n" + "".join(f"  {sig};\n" for sig in sigs) + "}"
        doc = jsdoc(*op_doc(name, doc_obj, url, display))
        return f"{doc}\nexport const {js}: {body} = opFunction('{name}', '{display}');\n"

    # torch.*
    out = [header, imports, "\n"]
    renamed = []
    for n in torch_fns:
        js = ident(n)
        out.append(fn_const(js, n, f"torch.{camel(n)}", getattr(torch, n), f"{DOCS}/generated/torch.{n}.html"))
        if js != camel(n):
            renamed.append((js, camel(n)))
    if renamed:
        out.append("export { " + ", ".join(f"{a} as {b}" for a, b in renamed) + " };\n")
    for ns, (mod, names) in spaces.items():
        out.append(f"\n/** `torch.{ns}`: every operator of PyTorch's `torch.{ns}` module. */\nexport const {ns} = {{\n")
        for n in names:
            short = n[len(ns) + 1 :]
            sigs = overloads(n, False)
            body = "{ " + " ".join(f"{sig};" for sig in sigs) + " }"
            url = f"{DOCS}/special.html#torch.special.{short}" if ns == "special" else f"{DOCS}/generated/torch.{ns}.{short}.html"
            out.append(f"  {jsdoc(*op_doc(n, getattr(mod, short), url, f'torch.{ns}.{camel(short)}'))}\n  {camel(short)}: opFunction('{n}', 'torch.{ns}.{camel(short)}') as {body},\n")
        out.append("};\n")
    write("torch.ts", "".join(out))

    # torch.nn.functional
    out = [header, imports, "\n"]
    for n in f_fns:
        out.append(fn_const(ident(n), n, f"F.{camel(n)}", getattr(F, n), f"{DOCS}/generated/torch.nn.functional.{n}.html"))
    write("functional.ts", "".join(out))

    # Tensor methods: declarations merged into the class, and the prototype entries installed by lib/tensor_methods.ts
    out = [
        header,
        "import type { NamedResult } from '../aten';\nimport type { Device } from '../device';\n"
        "import type { DType } from '../dtype';\nimport type { Generator } from '../generator';\n"
        "import type { MemoryFormat, Scalar, Tensor } from '../tensor';\n\n",
        "/** The ATen operators PyTorch exposes as Tensor methods: [JS name, ATen name]. */\n",
        "export const METHODS: readonly (readonly [string, string])[] = [\n",
    ]
    for n in methods:
        out.append(f"  ['{camel(n)}', '{n}'],\n")
    out.append("];\n\n/** The generated Tensor methods' types (merged into `Tensor` by lib/tensor_methods.ts). */\n")
    out.append("export interface GeneratedTensorMethods {\n")
    for n in methods:
        js = camel(n)
        base = n[:-1] if n.endswith("_") and hasattr(torch, n[:-1]) else n
        doc_obj = getattr(torch, base) if hasattr(torch, base) else getattr(torch.Tensor, n)
        if not summary(doc_obj):
            doc_obj = getattr(torch.Tensor, n)
        out.append(f"  {jsdoc(*op_doc(n, doc_obj, f'{DOCS}/generated/torch.Tensor.{n}.html', f'Tensor.{js}'))}\n")
        for sig in overloads(n, True):
            out.append(f"  {js}{sig};\n")
    out.append("}\n")
    write("methods.ts", "".join(out))
    print(f"torch {len(torch_fns)}, Tensor {len(methods)}, F {len(f_fns)}, "
          + ", ".join(f"{k} {len(v[1])}" for k, v in spaces.items()), file=sys.stderr)


CHECK = "--check" in sys.argv  # compare with the committed files instead of writing them
STALE = []


def write(name, text):
    path = os.path.join(OUT, name)
    if CHECK:
        with open(path) as f:
            if f.read() != text:
                STALE.append(name)
        return
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
    if STALE:
        print("lib/generated is stale (run /usr/bin/python3 scripts/gen_ops.py): " + ", ".join(STALE), file=sys.stderr)
        sys.exit(1)
