#!/usr/bin/env python3
"""Layering check: every `crate::` path in src/ must point down the documented order.

Each top-level module of the crate has a layer (LAYERS below, top to bottom). Code in
one module may name another module only if that module sits in a lower layer; modules
in the same layer may not name each other. Unit-test code (everything from a
`#[cfg(test)]` item to the end of its file, and files under a `tests/` folder) is
exempt: tests may reach anywhere.

Usage: python3 scripts/layers.py            # check; exit 1 on an upward or sideways edge
       python3 scripts/layers.py --edges    # also print every module edge with its count
"""

import pathlib
import re
import sys
from collections import Counter

# Top to bottom. The composition roots (cli, app, state builders) may use anything
# below them; leaves (domain, secret) use nothing of the crate.
LAYERS = [
    ["main", "cli"],
    ["app"],
    ["mock_upstream"],
    ["http"],
    ["openapi"],
    ["pipeline"],
    ["state", "error"],
    [
        "policy",
        "routing",
        "metering",
        "key_service",
        "telemetry",
        "connections",
        "email",
        "users",
        "vault",
        "webhooks",
        "ui",
    ],
    ["alerts"],
    ["auth"],
    ["providers"],
    ["store", "translate", "cluster"],
    ["config"],
    ["keys", "outbound", "seal"],
    ["domain", "secret"],
]

# Edges that are allowed although they break the order, each with its reason.
ALLOWED = {
    # `lib.rs` items (the crypto provider install) are the crate root, not a module.
}
ROOT_ITEMS = {"install_crypto_provider"}

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{")


def group_heads(text: str, start: int):
    """Top-level names inside the `{...}` that opens at `start` (`use crate::{a::X, b}`)."""
    depth, token, heads = 0, "", []
    for ch in text[start:]:
        if ch == "{":
            depth += 1
            if depth > 1:
                token = None if token == "" else token
            continue
        if ch == "}":
            depth -= 1
            if depth == 0:
                if token:
                    heads.append(token)
                break
            if depth == 1:
                token = None
            continue
        if depth == 1:
            if ch == ",":
                if token:
                    heads.append(token)
                token = ""
            elif token is not None and (ch.isalnum() or ch == "_"):
                token += ch
            elif token and ch == ":":
                heads.append(token)
                token = None
            elif token and not ch.isspace():
                token = None
    return [h for h in heads if h not in ("self", "super")]


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC)
    first = rel.parts[0]
    return first[:-3] if first.endswith(".rs") else first


def production_lines(path: pathlib.Path):
    if "tests" in path.relative_to(SRC).parts[:-1] or path.name == "tests.rs":
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("#[cfg(test)]"):
            return
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield i + 1, line


def main() -> int:
    rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    edges: Counter = Counter()
    where: dict = {}
    unknown = set()
    for path in sorted(SRC.rglob("*.rs")):
        src_mod = module_of(path)
        if src_mod == "lib":
            continue
        lines = list(production_lines(path))
        text = "\n".join(line for _, line in lines)
        for m in GROUP.finditer(text):
            for target in group_heads(text, m.end() - 1):
                if target != src_mod:
                    edges[(src_mod, target)] += 1
                    where.setdefault((src_mod, target), f"{path.relative_to(ROOT)}")
        for lineno, line in lines:
            for target in PATH.findall(line):
                if target in ROOT_ITEMS:
                    continue
                if target == src_mod:
                    continue
                edges[(src_mod, target)] += 1
                where.setdefault((src_mod, target), f"{path.relative_to(ROOT)}:{lineno}")
    bad = []
    for (a, b), n in sorted(edges.items()):
        for m in (a, b):
            if m not in rank:
                unknown.add(m)
        if a not in rank or b not in rank:
            continue
        if (a, b) in ALLOWED:
            continue
        if rank[a] >= rank[b]:
            bad.append((a, b, n))
    if "--edges" in sys.argv:
        for (a, b), n in sorted(edges.items()):
            print(f"{a} -> {b} ({n})")
    if unknown:
        print(f"layers: modules missing from LAYERS in scripts/layers.py: {', '.join(sorted(unknown))}")
    for a, b, n in bad:
        kind = "sideways" if rank[a] == rank[b] else "upward"
        print(f"layers: {kind} edge {a} -> {b} ({n} uses, first at {where[(a, b)]})")
    if bad or unknown:
        print(f"layers: {len(bad)} edge(s) break the order; see LAYERS in scripts/layers.py")
        return 1
    print(f"layers: {len(edges)} module edges, all pointing down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
