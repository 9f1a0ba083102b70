#!/usr/bin/env python3
"""Issue #16's store line, as a check: every SQL statement of wedsync-store is written once, in a
domain's shared module as a function of a `Dialect`, so the backend files (`*/pg.rs`,
`*/sqlite.rs`, `pg/`, `sqlite/`) hold no statement text of their own.

Usage: scripts/store-sql-once.py [STORE_SRC]   (default crates/store/src)

Exits 1 and names file:line for every string literal in a backend file that starts a statement
(SELECT, INSERT INTO, UPDATE … SET, DELETE FROM, WITH … AS), outside `#[cfg(test)]` code.
Allowed: PostgreSQL's `pg_notify` wake-up, which SQLite (one process) has no counterpart for.
"""
import pathlib
import re
import sys

ALLOWED = ("pg_notify(",)
# a string literal that opens with a statement (after a `\` line continuation, too)
STATEMENT = re.compile(
    r'"(?:\\\n)?\s*(SELECT\b|INSERT\s+INTO\b|UPDATE\s+\w+(?:\s+AS\s+\w+)?\s+SET\b'
    r"|DELETE\s+FROM\b|WITH\s+\w+\s+AS\b)"
)


def backend_files(root: pathlib.Path):
    for path in sorted(root.rglob("*.rs")):
        rel = path.relative_to(root)
        if path.name in ("pg.rs", "sqlite.rs") or rel.parts[0] in ("pg", "sqlite"):
            yield path


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "crates/store/src")
    files = list(backend_files(root))
    if not files:
        print(f"error: no backend files (pg.rs, sqlite.rs, pg/, sqlite/) under {root}", file=sys.stderr)
        return 2
    found = []
    for path in files:
        text = path.read_text()
        # test code may spell statements out (the statement cache's own tests do)
        text = text.split("#[cfg(test)]", 1)[0]
        # comments may name statements; blank them, keeping the line numbers
        code = "\n".join(
            "" if line.lstrip().startswith("//") else line for line in text.splitlines()
        )
        for m in STATEMENT.finditer(code):
            line_no = code.count("\n", 0, m.start()) + 1
            line = code[m.start() : code.find("\n", m.end())]
            if not any(a in line for a in ALLOWED):
                found.append(f"{path}:{line_no}: {' '.join(line.split())[:100]}")
    if found:
        print("SQL statements written in a backend file (write them once, for a Dialect):")
        print("\n".join(found))
        return 1
    print(f"no statement text in the backend files under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
