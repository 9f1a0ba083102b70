#!/usr/bin/env python3
"""Draw the workspace's crate graph in docs/ARCHITECTURE.md (and the publish order in
docs/publishing.md) from `cargo metadata`.

    scripts/architecture.sh            rewrite the generated blocks between their markers
    scripts/architecture.sh --check    exit 1 (printing a diff) when a committed block differs

The picture is everything between the two marker comments in docs/ARCHITECTURE.md: a Mermaid graph
of the workspace members and their dependencies on each other, then a table of the same edges with
each crate's description and the optional external dependencies each feature pulls in. Nothing in it
is written by hand. Edge kinds:

    A --> B                 normal dependency, always on
    A -. "feat" .-> B       optional dependency, enabled by the feature(s) named (default-on ones
                            are marked "(default)")
    A -. "dev" .-> B        dev-dependency only (tests, examples, benches)

The publish order in docs/publishing.md lists the crates that may be published, each after every
workspace crate it depends on (normal, optional and build dependencies, and dev-dependencies
unless they form a cycle), ties broken by name.

It runs `cargo metadata --format-version 1 --no-deps --offline --locked`: no network, no build.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
BEGIN = "<!-- BEGIN GENERATED: crate graph (scripts/architecture.sh; do not edit by hand) -->"
END = "<!-- END GENERATED: crate graph -->"
PUBLISHING = ROOT / "docs" / "publishing.md"
BEGIN_ORDER = "<!-- BEGIN GENERATED: publish order (scripts/architecture.sh; do not edit by hand) -->"
END_ORDER = "<!-- END GENERATED: publish order -->"


def metadata() -> dict:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline", "--locked"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
    )
    return json.loads(out.stdout)


def enabling_features(pkg: dict, dep_key: str) -> list[str]:
    """Features of `pkg` that name the optional dependency `dep_key` directly."""
    names = []
    for feature, items in pkg["features"].items():
        for item in items:
            if item == f"dep:{dep_key}" or item.split("/")[0].rstrip("?") == dep_key:
                names.append(feature)
                break
    if not names and dep_key in pkg["features"]:
        names.append(dep_key)  # implicit feature of an optional dependency
    default = set(pkg["features"].get("default", []))
    return sorted(f"{f} (default)" if f in default else f for f in names)


def node_id(name: str) -> str:
    return name.replace("-", "_")


def edges(meta: dict) -> list[tuple[str, str, str, str, str]]:
    """(from, to, kind, label, enabled features of the target) for every edge between members."""
    members = {p["name"] for p in meta["packages"] if p["id"] in meta["workspace_members"]}
    found = {}
    for pkg in meta["packages"]:
        if pkg["name"] not in members:
            continue
        for dep in pkg["dependencies"]:
            if dep["name"] not in members:
                continue
            key = dep.get("rename") or dep["name"]
            kind = dep["kind"] or "normal"
            if kind == "normal" and dep["optional"]:
                kind = "optional"
                label = ", ".join(enabling_features(pkg, key))
            elif kind == "normal":
                label = ""
            else:
                label = kind  # "dev" or "build"
            if dep.get("target"):
                label = f"{label} on {dep['target']}".strip()
            feats = ", ".join(sorted(dep["features"]))
            found[(pkg["name"], dep["name"], kind, label)] = feats
    # A dev-dependency on a crate already depended on unconditionally adds no edge to the picture.
    always = {(a, b) for (a, b, k, _) in found if k == "normal"}
    out = []
    for (a, b, kind, label), feats in sorted(found.items()):
        if kind == "dev" and (a, b) in always:
            continue
        out.append((a, b, kind, label, feats))
    return out


def optional_externals(pkg: dict, members: set[str]) -> str:
    """`feature → external crates` for every feature that turns on an optional external dependency."""
    optional = {
        (d.get("rename") or d["name"])
        for d in pkg["dependencies"]
        if d["optional"] and d["kind"] is None and d["name"] not in members
    }
    parts = []
    for feature, items in sorted(pkg["features"].items()):
        deps = sorted({i.removeprefix("dep:").split("/")[0].rstrip("?") for i in items} & optional)
        if deps:
            parts.append(f"`{feature}` → {', '.join(deps)}")
    return "; ".join(parts) if parts else "—"


def render(meta: dict) -> str:
    pkgs = sorted(
        (p for p in meta["packages"] if p["id"] in meta["workspace_members"]),
        key=lambda p: p["name"],
    )
    members = {p["name"] for p in pkgs}
    es = edges(meta)
    lines = [BEGIN, "", "```mermaid", "flowchart TD"]
    for p in pkgs:
        lines.append(f'    {node_id(p["name"])}["{p["name"]}"]')
    styles = []
    for i, (a, b, kind, label, _) in enumerate(es):
        if kind == "normal":
            lines.append(f"    {node_id(a)} --> {node_id(b)}")
        else:
            lines.append(f'    {node_id(a)} -. "{label}" .-> {node_id(b)}')
        if kind == "dev":
            styles.append(str(i))
    if styles:
        lines.append(f"    linkStyle {','.join(styles)} stroke:#999,color:#777")
    lines += ["```", ""]
    lines.append("| crate | depends on (always) | optional (enabling feature) | dev only | optional external deps by feature | description |")
    lines.append("|---|---|---|---|---|---|")
    for p in pkgs:
        mine = [e for e in es if e[0] == p["name"]]

        def cell(kind: str, with_label: bool) -> str:
            items = []
            for _, b, k, label, feats in mine:
                if k != kind:
                    continue
                text = f"`{b}`"
                if feats:
                    text += f" [{feats}]"
                if with_label and label:
                    text += f" via {label}"
                items.append(text)
            return ", ".join(items) if items else "—"

        desc = p.get("description") or ""
        lines.append(
            f"| `{p['name']}` | {cell('normal', False)} | {cell('optional', True)} "
            f"| {cell('dev', False)} | {optional_externals(p, members)} | {desc} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def publish_order(meta: dict) -> str:
    """`cargo publish` commands for the publishable members, dependencies first."""
    pkgs = {p["name"]: p for p in meta["packages"] if p["id"] in meta["workspace_members"]}
    publishable = {n for n, p in pkgs.items() if p.get("publish") != []}

    def order_by(kinds: set) -> list[str] | None:
        needs = {
            n: {
                d["name"]
                for d in pkgs[n]["dependencies"]
                if d["name"] in publishable and d["kind"] in kinds and d["name"] != n
            }
            for n in publishable
        }
        order: list[str] = []
        while needs:
            ready = sorted(n for n, deps in needs.items() if not deps - set(order))
            if not ready:
                return None
            order.append(ready[0])
            del needs[ready[0]]
        return order

    # Dev-dependencies too when they allow an order (a published manifest keeps versioned
    # dev-dependencies); without them otherwise (cargo allows dev-dependency cycles).
    order = order_by({None, "build", "dev"}) or order_by({None, "build"})
    if order is None:
        raise SystemExit("dependency cycle among the publishable crates")
    lines = [BEGIN_ORDER, "", "```sh", "cargo login --registry wedsync            # once, with a token from the registry"]
    lines += [f"cargo publish --registry wedsync -p {n}" for n in order]
    lines += ["```", "", END_ORDER]
    return "\n".join(lines)


def update(path: Path, begin: str, end: str, new: str, what: str, check: bool) -> int:
    """Compare (or rewrite) the block between `begin` and `end` in `path`; 0 when it matches."""
    name = path.relative_to(ROOT)
    text = path.read_text()
    try:
        head, rest = text.split(begin, 1)
        old, tail = rest.split(end, 1)
    except ValueError:
        print(f"{name}: the marker comments are missing:\n  {begin}\n  {end}", file=sys.stderr)
        return 2
    old = begin + old + end
    if old == new:
        if check:
            print(f"{name}: the {what} matches cargo metadata")
        return 0
    if check:
        diff = difflib.unified_diff(
            old.splitlines(), new.splitlines(), f"{name} (committed)",
            "cargo metadata (generated)", lineterm="",
        )
        print("\n".join(diff))
        print(f"\n{name}: the {what} differs from cargo metadata; "
              "run scripts/architecture.sh and commit the result", file=sys.stderr)
        return 1
    path.write_text(head + new + tail)
    print(f"{name}: {what} rewritten")
    return 0


def main() -> int:
    check = "--check" in sys.argv[1:]
    meta = metadata()
    results = [
        update(DOC, BEGIN, END, render(meta), "crate graph", check),
        update(PUBLISHING, BEGIN_ORDER, END_ORDER, publish_order(meta), "publish order", check),
    ]
    return max(results)


if __name__ == "__main__":
    sys.exit(main())
