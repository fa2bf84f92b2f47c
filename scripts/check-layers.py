#!/usr/bin/env python3
"""Checks that daemon/src keeps its layers.

Every top-level module of the daemon belongs to one layer; a module may use
modules of lower layers only. Fails (exit 1) on every import that goes up or
sideways between services, and on every import cycle between top-level
modules or between the submodules of one top-level module, naming file:line.

    python3 scripts/check-layers.py              # the check
    python3 scripts/check-layers.py --graph      # the module graph, then the check
    python3 scripts/check-layers.py --self-test  # the checker's own tests

Standard library only: tests/layers.rs runs it on any machine with python3.
"""

import argparse
import bisect
import os
import re
import sys

# Top to bottom. (layer, modules, whether the modules of the layer may use each other)
LAYERS = [
    # The daemon's settings name every part's own config type; only the
    # crate root (lib.rs, main.rs) reads them.
    ("config", ["config"], False),
    ("control", ["control"], False),
    ("app", ["app"], False),
    # Services get what they need of each other as small handle types, wired
    # by `app`; the exceptions below say where that is not done yet.
    ("services", ["room", "voice", "video", "files", "channels"], False),
    # What the services share: the handle types, the event sink, the drop
    # counters and the one error type.
    ("shared", ["handles", "events", "counters", "error", "rate"], True),
    ("base", ["node", "store", "entry", "wire", "identity", "lock"], True),
]

# Imports that break the order on purpose:
# (importing top-level module, imported path prefix after `crate::`) -> why.
# e.g. ("voice", "room::RoomHandle"): "the call needs a room's members".
ALLOWED = {}

ROOT = "crate"
# main.rs is a crate of its own and reaches the library by this name.
LIB_CRATE = "aperod"
SRC = "daemon/src"


# ---------------------------------------------------------------- reading


def clean(src):
    """The source with comments, strings and char literals blanked out;
    newlines are kept so that offsets still give the right line."""
    out = list(src)
    n = len(src)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    def ident_char(k):
        return 0 <= k < n and (src[k].isalnum() or src[k] == "_")

    i = 0
    while i < n:
        c = src[i]
        nxt = src[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "r" and (not ident_char(i - 1) or (src[i - 1] in "bc" and not ident_char(i - 2))):
            m = RAW.match(src, i)
            if not m:
                i += 1
                continue
            end = src.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            blank(i, end)
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}') or a lifetime ('a, 'static).
            if nxt == "\\":
                j = src.find("'", i + 2 if src[i + 2 : i + 3] != "'" else i + 3)
                j = n if j < 0 else j
                blank(i, j + 1)
                i = j + 1
            elif i + 2 < n and src[i + 2] == "'":
                blank(i, i + 3)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


RAW = re.compile(r'r(#*)"')
TOKEN = re.compile(r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*|::|\S")


def tokens(text):
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out = []
    for m in TOKEN.finditer(text):
        v = m.group(0)
        if v.startswith("r#"):
            v = v[2:]
        out.append((v, bisect.bisect_right(starts, m.start())))
    return out


def is_ident(v):
    return bool(re.match(r"[A-Za-z_]", v))


def matching(toks, i, open_, close):
    """Index just past the bracket that closes toks[i] (an `open_`)."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j][0] == open_:
            depth += 1
        elif toks[j][0] == close:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(toks)


def test_only(pred):
    """`cfg(test)` or `cfg(all(.., test, ..))`: code that only tests compile."""
    if pred == ["test"]:
        return True
    if len(pred) > 2 and pred[0] == "all" and pred[1] == "(":
        depth, items, cur = 0, [], []
        for v in pred[2:-1]:
            if v in "([":
                depth += 1
            elif v in ")]":
                depth -= 1
            if v == "," and depth == 0:
                items.append(cur)
                cur = []
            else:
                cur.append(v)
        items.append(cur)
        return ["test"] in items
    return False


def drop_test_items(toks):
    """The tokens without the items under a test-only cfg, and the names of
    test-only file modules (`#[cfg(test)] mod tests;`)."""
    keep = [True] * len(toks)
    test_mods = []
    i = 0
    while i < len(toks):
        if toks[i][0] == "#" and i + 3 < len(toks) and toks[i + 1][0] == "[" and toks[i + 2][0] == "cfg" and toks[i + 3][0] == "(":
            attr_end = matching(toks, i + 1, "[", "]")
            pred_end = matching(toks, i + 3, "(", ")")
            if test_only([t[0] for t in toks[i + 4 : pred_end - 1]]):
                j = attr_end
                while j + 1 < len(toks) and toks[j][0] == "#" and toks[j + 1][0] == "[":
                    j = matching(toks, j + 1, "[", "]")
                item = j
                depth = 0
                while j < len(toks):
                    v = toks[j][0]
                    if v in "([":
                        depth += 1
                    elif v in ")]":
                        depth -= 1
                    elif depth == 0 and v in ";,":
                        j += 1
                        break
                    elif depth == 0 and v == "}":
                        break
                    elif depth == 0 and v == "{":
                        j = matching(toks, j, "{", "}")
                        break
                    j += 1
                words = [t[0] for t in toks[item:j] if t[0] not in ("pub", "(", ")", "crate", "super")]
                if len(words) == 3 and words[0] == "mod" and words[2] == ";":
                    test_mods.append(words[1])
                for k in range(i, j):
                    keep[k] = False
                i = j
                continue
        i += 1
    return [t for t, k in zip(toks, keep) if k], test_mods


def parse_use(toks, i, prefix):
    """One use tree from toks[i]: ([(segments, line, bound name or None)], next index)."""
    segs, items = list(prefix), []
    while i < len(toks):
        v, line = toks[i]
        if v == "::":
            i += 1
        elif v == "{":
            i += 1
            while i < len(toks) and toks[i][0] != "}":
                if toks[i][0] == ",":
                    i += 1
                    continue
                sub, j = parse_use(toks, i, segs)
                items += sub
                i = j if j > i else i + 1
            return items, i + 1
        elif v == "*":
            return items + [(segs, line, None)], i + 1
        elif is_ident(v) and v != "as":
            segs = segs + [v]
            i += 1
            if i < len(toks) and toks[i][0] == "::":
                continue
            name = v
            if i + 1 < len(toks) and toks[i][0] == "as":
                name = toks[i + 1][0]
                i += 2
            if v == "self" and len(segs) > 1:
                segs = segs[:-1]
                name = segs[-1] if name == "self" else name
            return items + [(segs, line, None if name == "_" else name)], i
        else:
            return items, i
    return items, i


def module_path(rel):
    """daemon/src/files/fetch.rs (as "files/fetch.rs") -> ("files", "fetch")."""
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return ()
    return tuple(parts)


def read_module(rel, src, child_names, lib_name):
    """([(written segments, line)], {name bound by a use: written segments}, test-only file modules).
    An inline `mod x { .. }` counts as part of its file (daemon/src has none but tests)."""
    toks, test_mods = drop_test_items(tokens(clean(src)))
    refs, bindings = [], {}
    used = [False] * len(toks)
    starts = {"crate", "super", "self"} | set(child_names)
    if lib_name:
        starts.add(lib_name)
    for i, (v, _) in enumerate(toks):
        if v == "use" and not used[i]:
            items, j = parse_use(toks, i + 1, [])
            for segs, line, name in items:
                if not segs or segs[0] not in starts:
                    continue  # std, an external crate
                refs.append((segs, line))
                if name:
                    bindings[name] = segs
            for k in range(i, j):
                used[k] = True
    for i, (v, _) in enumerate(toks):
        if used[i] or v not in starts or i + 1 >= len(toks) or toks[i + 1][0] != "::":
            continue
        prev = toks[i - 1][0] if i else ""
        if prev in ("::", ".") or (prev == "in" and i > 1 and toks[i - 2][0] == "("):
            continue  # the tail of another path, a field, `pub(in crate::x)`
        segs, line, j = [v], toks[i][1], i + 1
        while j + 1 < len(toks) and toks[j][0] == "::" and is_ident(toks[j + 1][0]):
            segs.append(toks[j + 1][0])
            line = toks[j + 1][1]
            j += 2
        if len(segs) > 1:
            refs.append((segs, line))
    return refs, bindings, test_mods


# ---------------------------------------------------------------- checking


class Report:
    def __init__(self):
        self.violations = []  # (file, line, from, to, kind, written, resolved)
        self.undeclared = {}  # module -> file
        # (scope, one shortest cycle, {(a, b): [(file, line)]} within the component, its members)
        self.cycles = []
        self.edges = {}  # (a, b) -> [(file, line)], top-level
        self.sub_edges = {}  # top -> {(a, b): [(file, line)]}
        self.unused_allowed = []

    def failed(self):
        return bool(self.violations or self.undeclared or self.cycles)


def layer_index():
    index = {}
    for k, (_, mods, _) in enumerate(LAYERS):
        for m in mods:
            index[m] = k
    return index


def absolute(mod, written, lib_name):
    head = written[0]
    if head == "crate" or (lib_name and head == lib_name):
        return tuple(written[1:])
    if head == "super":
        base, rest = mod, list(written)
        while rest and rest[0] == "super":
            if not base:
                return None
            base, rest = base[:-1], rest[1:]
        return base + tuple(rest)
    if head == "self":
        return mod + tuple(written[1:])
    return mod + tuple(written)  # a child module


def check(files, allowed=None):
    """files: {path relative to daemon/src: source}. Pure: the self-test feeds it."""
    allowed = ALLOWED if allowed is None else allowed
    rep = Report()
    paths = {module_path(rel) for rel in files if rel.endswith(".rs")}
    mods, test_only_mods = {}, set()
    for rel in sorted(r for r in files if r.endswith(".rs")):
        mp = module_path(rel)
        is_main = rel == "main.rs"
        # main.rs is another crate: its bare paths are external crates.
        children = set() if is_main else {p[len(mp)] for p in paths if len(p) == len(mp) + 1 and p[: len(mp)] == mp}
        refs, bindings, tests = read_module(rel, files[rel], children, LIB_CRATE if is_main else None)
        test_only_mods |= {mp + (t,) for t in tests}
        mods.setdefault(mp, []).append((rel, refs, bindings, is_main))
    bindings_of = {mp: {} for mp in mods}
    for mp, entries in mods.items():
        for rel, _, bindings, is_main in entries:
            if not is_main:
                for name, segs in bindings.items():
                    target = absolute(mp, segs, None)
                    if target is not None:
                        bindings_of[mp][name] = target

    def module_of(path):
        for k in range(len(path), -1, -1):
            if path[:k] in mods:
                return path[:k]
        return ()

    def resolve(path, depth=0):
        # A parent's `use child::Item` is the child's item: siblings that
        # reach it as `super::Item` depend on the child. A `use` of anything
        # else (`pub use crate::other`) is not followed: a path through a
        # module depends on that module, which must keep the alias.
        mod = module_of(path)
        if len(path) > len(mod) and depth < 16:
            target = bindings_of.get(mod, {}).get(path[len(mod)])
            if target is not None and len(target) > len(mod) and target[: len(mod)] == mod and len(module_of(target)) > len(mod):
                return resolve(target + path[len(mod) + 1 :], depth + 1)
        return path

    def top(path):
        return path[0] if path and (path[0],) in mods else ROOT

    def sub(path):
        return path[:2] if len(path) >= 2 and path[:2] in mods else path[:1]

    index = layer_index()
    used_allowed = set()
    for mp, entries in sorted(mods.items()):
        if any(mp[: k + 1] in test_only_mods for k in range(len(mp))):
            continue
        for rel, refs, _, is_main in entries:
            file = SRC + "/" + rel
            for written, line in refs:
                target = absolute(mp, written, LIB_CRATE if is_main else None)
                if target is None:
                    continue
                target = resolve(target)
                a, b = top(mp), top(target)
                if a == b:
                    sa, sb = sub(mp), sub(target)
                    if a != ROOT and sa != sb and len(sa) == 2 and len(sb) == 2:
                        rep.sub_edges.setdefault(a, {}).setdefault((sa[1], sb[1]), []).append((file, line))
                    continue
                rep.edges.setdefault((a, b), []).append((file, line))
                if a == ROOT:
                    continue
                if a not in index or (b != ROOT and b not in index):
                    continue
                kind = None
                if b == ROOT:
                    kind = "imports the crate root"
                elif index[b] < index[a]:
                    kind = "upward: %s is above %s" % (LAYERS[index[b]][0], LAYERS[index[a]][0])
                elif index[b] == index[a] and not LAYERS[index[a]][2]:
                    kind = "sideways: %s may not use each other" % LAYERS[index[a]][0]
                if kind is None:
                    continue
                shown = "::".join(target)
                hit = [k for k in allowed if k[0] == a and (shown == k[1] or shown.startswith(k[1] + "::"))]
                if hit:
                    used_allowed.update(hit)
                    continue
                rep.violations.append((file, line, a, b, kind, "::".join(written), "crate::" + shown))
    # Modules that nothing imports still need a layer.
    for mp in mods:
        if len(mp) == 1 and mp[0] not in index:
            rep.undeclared.setdefault(mp[0], SRC + "/" + sorted(r for r, *_ in mods[mp])[0])
    rep.unused_allowed = sorted(set(allowed) - used_allowed)
    for scc in components(rep.edges):
        rep.cycles.append((ROOT, shortest_cycle(scc, rep.edges), inner(scc, rep.edges), sorted(scc, key=order_key)))
    for t, edges in sorted(rep.sub_edges.items()):
        for scc in components(edges):
            rep.cycles.append((t, shortest_cycle(scc, edges), inner(scc, edges), sorted(scc)))
    rep.violations.sort()
    return rep


def components(edges):
    """Strongly connected components of more than one node (Tarjan)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out, key=sorted)


def shortest_cycle(scc, edges):
    """One shortest cycle through the first node of the component, for the message."""
    start = min(scc, key=order_key)
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for a, b in sorted(edges):
                if a != v or b not in scc:
                    continue
                if b == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if b not in prev:
                    prev[b] = v
                    nxt.append(b)
        frontier = nxt
    return sorted(scc)


def inner(scc, edges):
    return {e: locs for e, locs in sorted(edges.items()) if e[0] in scc and e[1] in scc}


def order_key(m):
    index = layer_index()
    return (index.get(m, len(LAYERS)) if m != ROOT else -1, m)


# ---------------------------------------------------------------- output


def places(locs):
    by_file = {}
    for f, line in locs:
        by_file.setdefault(f, [])
        if line not in by_file[f]:
            by_file[f].append(line)
    return ", ".join("%s:%s" % (f, ",".join(str(n) for n in sorted(ls))) for f, ls in sorted(by_file.items()))


def group_by_line(violations):
    """One entry a line: `use crate::app::{App, AppError}` is one import to fix."""
    grouped = {}
    for f, line, a, b, kind, written, resolved in violations:
        via = "" if written.split("::", 1)[-1] == resolved.split("::", 1)[-1] else " (= %s)" % resolved
        grouped.setdefault((f, line, a, b, kind), []).append(written + via)
    return sorted(grouped.items())


def print_graph(rep, out):
    out.write("module graph (an edge: how many references)\n")
    index = layer_index()
    nodes = sorted({a for a, _ in rep.edges} | {b for _, b in rep.edges} | set(rep.undeclared), key=order_key)
    for a in nodes:
        layer = "root" if a == ROOT else LAYERS[index[a]][0] if a in index else "no layer"
        deps = sorted(((b, len(locs)) for (x, b), locs in rep.edges.items() if x == a), key=lambda d: order_key(d[0]))
        out.write("  %-9s [%s] -> %s\n" % (a, layer, ", ".join("%s (%d)" % d for d in deps) or "-"))
    for t, edges in sorted(rep.sub_edges.items(), key=lambda kv: order_key(kv[0])):
        out.write("submodules of %s:\n" % t)
        for a in sorted({x for x, _ in edges}):
            deps = sorted((b, len(locs)) for (x, b), locs in edges.items() if x == a)
            out.write("  %s -> %s\n" % (a, ", ".join("%s (%d)" % d for d in deps)))
    out.write("\n")


def print_report(rep, out):
    out.write("layers, top to bottom: %s\n" % " > ".join(", ".join(mods) for _, mods, _ in LAYERS))
    if rep.undeclared:
        out.write("\nmodules in no layer (add them to LAYERS in scripts/check-layers.py):\n")
        for m, f in sorted(rep.undeclared.items()):
            out.write("  %s (%s)\n" % (m, f))
    grouped = group_by_line(rep.violations)
    if grouped:
        out.write("\nimports against the layers (%d):\n" % len(grouped))
        for (f, line, a, b, kind), paths in grouped:
            out.write("  %s:%d: %s -> %s, %s: %s\n" % (f, line, a, b, kind, ", ".join(paths)))
    if rep.cycles:
        out.write("\nimport cycles (%d):\n" % len(rep.cycles))
        for scope, cycle, edges, members in rep.cycles:
            where = "" if scope == ROOT else "in %s: " % scope
            out.write("  %s%s\n" % (where, " -> ".join(cycle)))
            if len(members) > len(cycle) - 1:
                out.write("    (and more: %s all reach each other)\n" % ", ".join(members))
                pairs = ["%s <-> %s" % (a, b) for a, b in edges if (b, a) in edges and order_key(a) < order_key(b)]
                if pairs:
                    out.write("    using each other: %s\n" % ", ".join(pairs))
            for (a, b), locs in edges.items():
                out.write("    %s -> %s: %s\n" % (a, b, places(locs)))
    for key in rep.unused_allowed:
        out.write("\nnote: ALLOWED %r matches no import any more; it can go\n" % (key,))
    if rep.failed():
        out.write(
            "\nFAIL: %d imports against the layers, %d cycles, %d modules in no layer\n"
            % (len(grouped), len(rep.cycles), len(rep.undeclared))
        )
    else:
        out.write("\nOK: every import goes down the layers, no cycles\n")


def read_tree(src):
    files = {}
    for dirpath, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, src).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    files[rel] = f.read()
    return files


# ---------------------------------------------------------------- self-test


# The made-up trees below are checked against this order, not the real one,
# so that the daemon's layers can change without rewriting the self-test.
TEST_LAYERS = [
    ("control", ["control"], False),
    ("app", ["app"], False),
    ("services", ["room", "voice", "video", "files", "channels"], False),
    ("base", ["node", "store", "wire", "identity", "lock"], True),
    ("config", ["config"], False),
]


def self_test(out):
    global LAYERS
    real, LAYERS = LAYERS, TEST_LAYERS
    try:
        return run_self_test(out)
    finally:
        LAYERS = real


def run_self_test(out):
    lib = "pub mod app;\npub mod config;\npub mod control;\npub mod files;\npub mod room;\npub mod store;\npub mod voice;\n"
    clean_tree = {
        "lib.rs": lib + "use crate::config::Config;\npub fn run() { app::start(); }\n",
        "main.rs": "use aperod::control;\nfn main() { aperod::run(); }\n",
        "control.rs": "use crate::app::{self, App};\nfn f(a: &App) { crate::config::load(); }\n",
        "app.rs": "use crate::{files::Transfers, room::{self, chat::Chat}, store::Store};\n"
        "pub fn start() { let s: crate::voice::Call; }\n",
        "room/mod.rs": "pub mod chat;\npub use chat::Chat;\n",
        "room/chat.rs": "use super::super::store::Store;\n"
        "/* use crate::app::App; */ const S: &str = \"crate::app::App\";\nconst R: &str = r#\"crate::app\"#;\n"
        "fn f<'a>(c: char) -> bool { c == '{' || c == '\\'' }\n",
        "files/mod.rs": "pub mod fetch;\npub mod transfer;\npub use transfer::Transfers;\n",
        "files/fetch.rs": "use super::wire_types;\nfn f() { crate::store::get(); }\n",
        "files/transfer.rs": "use super::fetch::go;\npub struct Transfers;\n",
        "voice/mod.rs": "// crate::room::chat::Chat would be sideways\npub struct Call;\n",
        "store/mod.rs": "use crate::config::Config;\n"
        "#[cfg(test)]\nmod tests {\n    use crate::app::App;\n    fn t() { crate::control::x(); }\n}\n"
        "#[cfg(all(test, target_os = \"linux\"))]\nfn linux_only() { crate::app::start(); }\n"
        "#[cfg(test)]\nmod more;\n",
        "store/more.rs": "use crate::control::Control;\n",
        "config.rs": "pub struct Config;\n",
    }
    cases = []

    def case(name, files, expect, allowed=None):
        cases.append((name, files, expect, allowed or {}))

    case("a clean tree", clean_tree, {"violations": [], "cycles": [], "undeclared": []})
    upward = dict(clean_tree)
    del upward["store/more.rs"]
    upward["store/mod.rs"] = "use crate::config::Config;\n\nfn f() {\n    let a = crate::app::start();\n}\n"
    case(
        "an upward import in code",
        upward,
        {"violations": [("daemon/src/store/mod.rs", 4, "store", "app")], "cycles": [["app", "store", "app"]], "undeclared": []},
    )
    sideways = dict(clean_tree)
    sideways["voice/mod.rs"] = "use crate::room::{\n    chat::Chat,\n    Handle,\n};\n"
    case(
        "services using each other, one exception",
        sideways,
        {"violations": [("daemon/src/voice/mod.rs", 2, "voice", "room")], "cycles": [], "undeclared": []},
        allowed={("voice", "room::Handle"): "test"},
    )
    cycle = dict(clean_tree)
    cycle["files/fetch.rs"] = "fn f() { crate::files::Transfers::new(); }\n"
    cycle["files/transfer.rs"] = "use super::{fetch::go};\npub struct Transfers;\n"
    case(
        "a cycle between submodules, through the parent's re-export",
        cycle,
        {"violations": [], "cycles": [["fetch", "transfer", "fetch"]], "undeclared": []},
    )
    alias = dict(clean_tree)
    alias["room/mod.rs"] = "pub mod chat;\npub use crate::store::Store;\n"
    del alias["store/more.rs"]
    alias["store/mod.rs"] = "use crate::room::Store as S;\n"
    case(
        "a path through another module's alias depends on that module",
        alias,
        {"violations": [("daemon/src/store/mod.rs", 1, "store", "room")], "cycles": [["room", "store", "room"]], "undeclared": []},
    )
    stray = dict(clean_tree)
    stray["events.rs"] = "use crate::config::Config;\n"
    stray["config.rs"] = "use crate::store::Store;\n"
    case(
        "a module in no layer; config uses nothing",
        stray,
        {
            "violations": [("daemon/src/config.rs", 1, "config", "store")],
            "cycles": [["store", "config", "store"]],
            "undeclared": ["events"],
        },
    )

    failures = 0
    for name, files, expect, allowed in cases:
        rep = check(files, allowed)
        got = {
            "violations": [(f, line, a, b) for f, line, a, b, *_ in rep.violations],
            "cycles": [c for _, c, *_ in rep.cycles],
            "undeclared": sorted(rep.undeclared),
        }
        verdict = rep.failed() == bool(expect["violations"] or expect["cycles"] or expect["undeclared"])
        if got != expect or not verdict:
            failures += 1
            out.write("self-test FAILED: %s\n  expected %r\n  got      %r\n" % (name, expect, got))
            print_report(rep, out)
        else:
            out.write("self-test ok: %s\n" % name)
    out.write("self-test: %d of %d cases failed\n" % (failures, len(cases)) if failures else "self-test: all %d cases pass\n" % len(cases))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description="Checks the layers of daemon/src (see the top of this file).")
    ap.add_argument("--graph", action="store_true", help="print the module graph before the check")
    ap.add_argument("--self-test", action="store_true", help="run the checker on small made-up trees")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--src", default=os.path.join(here, "..", *SRC.split("/")), help="the tree to check (default: daemon/src)")
    args = ap.parse_args()
    if args.self_test:
        return self_test(sys.stdout)
    files = read_tree(args.src)
    if not files:
        sys.stderr.write("no .rs files under %s\n" % args.src)
        return 2
    rep = check(files)
    if args.graph:
        print_graph(rep, sys.stdout)
    print_report(rep, sys.stdout)
    return 1 if rep.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
