#!/usr/bin/env python3
"""Runs idlink's analytics SQL on current ClickHouse, in-process via chdb.

The local stack runs ClickHouse 18.16; production runs a current release.
This check applies every migration (twice: they must be idempotent), loads
the fixtures one after another and, after each, compares the reports with
their expected rows (expected*.json); after the last (fixture_views.sql) it
checks every fast path against its plain query in oracle/ and runs the
analyst questions of analytics/README.md against expected_questions.json.
The Go tests (TestFixtureReports, TestServiceReports, TestOracles,
TestAnalystQuestions, ...) do the same on 18.16, so both engines must give
identical answers.

Usage: python3 analytics/sqlcheck/check.py   (from anywhere; exit 0 = pass)
Install chdb first with analytics/sqlcheck/install.sh.
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYTICS = os.path.dirname(HERE)
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def split_statements(text):
    """Same rule as analytics.SplitStatements in Go: a statement ends with a
    line whose last non-blank character is ';'; lines that are only a `--`
    comment are dropped, and so are empty statements."""
    out, cur = [], []

    def flush():
        s = "\n".join(cur).strip()
        if s.endswith(";"):
            s = s[:-1].strip()
        if s:
            out.append(s)
        cur.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        t = line.strip()
        if t.startswith("--"):
            continue
        cur.append(line.rstrip(" \t"))
        if t.endswith(";"):
            flush()
    flush()
    return out


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def migrations():
    d = os.path.join(ANALYTICS, "migrations")
    files = []
    for name in os.listdir(d):
        m = MIGRATION_NAME.match(name)
        if not m:
            raise SystemExit(f"migration file {name}: name must be NNNN_lower_snake.sql")
        files.append((int(m.group(1)), name))
    files.sort()
    return [(v, name, split_statements(read(os.path.join(d, name)))) for v, name in files]


def reports():
    """Every report's query: the one statement of reports/<name>.sql, exactly
    as idlink (analytics.ReportSQL) and clickhouse-client run it."""
    d = os.path.join(ANALYTICS, "reports")
    out = {}
    for name in sorted(os.listdir(d)):
        stmts = split_statements(read(os.path.join(d, name)))
        if len(stmts) != 1:
            raise SystemExit(f"report {name[:-4]} must be exactly one statement, is {len(stmts)}")
        out[name[:-4]] = stmts[0]
    return out


def unescape_tsv(s):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "\\": "\\", "0": "\0"}.get(m.group(1), m.group(1)), s)


def parse_tsv(text):
    """TabSeparatedWithNamesAndTypes -> list of dicts, integers as ints,
    floats as floats (so 1 == 1.0 and 0.5 == 0.5 compare as in JSON)."""
    lines = [l for l in text.split("\n") if l != ""]
    if len(lines) < 2:
        raise ValueError(f"no header in result: {text!r}")
    names, types = lines[0].split("\t"), lines[1].split("\t")
    rows = []
    for line in lines[2:]:
        vals = [unescape_tsv(v) for v in line.split("\t")]
        row = {}
        for n, t, v in zip(names, types, vals):
            if re.match(r"^U?Int\d+$", t):
                row[n] = int(v)
            elif re.match(r"^Float\d+$", t):
                row[n] = float(v)
            else:
                row[n] = v
        rows.append(row)
    return names, rows


def compare(q, rs, expected, label, failures):
    for name, sql in rs.items():
        try:
            cols, rows = parse_tsv(q(sql))
        except Exception as e:  # noqa: BLE001
            failures.append(f"report {name}{label}: {e}")
            continue
        want = expected.get(name, [])
        if want and cols != list(want[0].keys()):
            failures.append(f"report {name}{label}: columns {cols}, want {list(want[0].keys())}")
        if rows != want:
            failures.append(f"report {name}{label}:\n  got  {json.dumps(rows)}\n  want {json.dumps(want)}")
        else:
            print(f"ok  {name}{label}: {len(rows)} rows")


def check_oracles(q, rs, failures):
    """Each fast path against its plain query in oracle/ (as TestOracles
    does on 18.16): a report against oracle/<report>.sql, a view's first
    statement against its second. Names, types and rows must be equal."""
    d = os.path.join(HERE, "oracle")
    covered = set()
    for name in sorted(os.listdir(d)):
        stmts = split_statements(read(os.path.join(d, name)))
        name = name[:-4]
        if name in rs and len(stmts) == 1:
            fast, plain = rs[name], stmts[0]
            covered.add(name)
        elif name not in rs and len(stmts) == 2:
            fast, plain = stmts
        else:
            failures.append(f"oracle/{name}.sql holds {len(stmts)} statements: want 1 for a report, 2 otherwise")
            continue
        try:
            got, want = q(fast), q(plain)
        except Exception as e:  # noqa: BLE001
            failures.append(f"oracle {name}: {e}")
            continue
        if got != want:
            failures.append(f"oracle {name}: the fast path gives\n{got}\nthe plain query\n{want}")
        elif got.count("\n") <= 2:
            failures.append(f"oracle {name}: no rows on the fixtures, so nothing is compared")
        else:
            print(f"ok  oracle {name}: {got.count(chr(10)) - 2} rows")
    if covered != set(rs):
        failures.append(f"oracle/ has plain queries for {sorted(covered)}, reports are {sorted(rs)}")


QUESTION = re.compile(r"^### (\d+)\. (.+)$", re.M)
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)


def questions():
    """The analyst questions of README.md, as analyticstest.Questions reads
    them: a heading "### N. title" and the first ```sql block before the next
    heading."""
    text = read(os.path.join(ANALYTICS, "README.md"))
    heads = list(QUESTION.finditer(text))
    out = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        nxt = text.find("\n#", h.end(), end)
        if nxt >= 0:
            end = nxt
        m = SQL_BLOCK.search(text, h.end(), end)
        if not m:
            raise SystemExit(f"README.md question {h.group(1)} has no ```sql block")
        if int(h.group(1)) != len(out) + 1:
            raise SystemExit(f"README.md question {h.group(2)!r} is numbered {h.group(1)}, want {len(out) + 1}")
        out.append((int(h.group(1)), h.group(2), m.group(1).strip()))
    return out


def json_rows(text):
    """JSONCompact output -> list of [(column, value)], DateTime values as
    RFC 3339 in UTC, the form Go's analytics.Row gives them."""
    doc = json.loads(text)
    names = [(c["name"], c["type"]) for c in doc["meta"]]
    rows = []
    for r in doc["data"]:
        row = []
        for (n, t), v in zip(names, r):
            if t == "DateTime" and isinstance(v, str):
                v = v.replace(" ", "T") + "Z"
            row.append((n, v))
        rows.append(row)
    return rows


def check_questions(q, failures):
    """Every analyst question of README.md against expected_questions.json
    (as TestAnalystQuestions does on 18.16): columns in order, and rows."""
    expected = json.loads(read(os.path.join(HERE, "expected_questions.json")),
                          object_pairs_hook=lambda pairs: pairs)
    expected = {k: [list(r) for r in v] for k, v in expected}
    qs = questions()
    if len(qs) < 10:
        failures.append(f"README.md has {len(qs)} analyst questions, want at least 10")
    if sorted(expected) != sorted(str(n) for n, _, _ in qs):
        failures.append(f"expected_questions.json answers {sorted(expected)}, README.md asks {len(qs)} questions")
    for n, title, sql in qs:
        try:
            got = json_rows(q(sql, "JSONCompact"))
        except Exception as e:  # noqa: BLE001
            failures.append(f"question {n} ({title}): {e}")
            continue
        want = expected.get(str(n))
        if got != want:
            failures.append(f"question {n} ({title}):\n  got  {got}\n  want {want}")
        else:
            print(f"ok  question {n}: {len(got)} rows")


def main():
    try:
        import chdb
        from chdb import session
    except ImportError:
        print("chdb is not installed: run analytics/sqlcheck/install.sh", file=sys.stderr)
        return 2

    sess = session.Session()
    failures = []

    def q(sql, fmt="TabSeparatedWithNamesAndTypes"):
        res = sess.query(sql, fmt)
        err = getattr(res, "error_message", None)
        if callable(err):
            err = err()
        if err:
            raise RuntimeError(err)
        return res.bytes().decode() if hasattr(res, "bytes") else str(res)

    try:
        version = parse_tsv(q("SELECT version() AS v"))[1][0]["v"]
        print(f"chdb {chdb.__version__}, ClickHouse {version}")
        q("CREATE DATABASE IF NOT EXISTS idlink_sqlcheck")
        q("USE idlink_sqlcheck")
        q("SET output_format_json_quote_64bit_integers = 0")  # numbers as Go's JSON writes them

        ms = migrations()
        for attempt in (1, 2):  # idempotent: applying twice must work
            for v, name, stmts in ms:
                for i, st in enumerate(stmts, 1):
                    try:
                        q(st)
                    except Exception as e:  # noqa: BLE001 - report and go on
                        failures.append(f"migration {name} statement {i} (pass {attempt}): {e}")
        # The migration bookkeeping queries Go runs (analytics/migrate.go).
        for v, name, _ in ms:
            q(f"INSERT INTO schema_migrations (version, name, applied_at) VALUES ({v}, '{name}', now())")
        _, applied = parse_tsv(q("SELECT DISTINCT version FROM schema_migrations"))
        if sorted(r["version"] for r in applied) != [v for v, _, _ in ms]:
            failures.append(f"schema_migrations holds {applied}")

        for i, st in enumerate(split_statements(read(os.path.join(HERE, "fixture.sql"))), 1):
            try:
                q(st)
            except Exception as e:  # noqa: BLE001
                failures.append(f"fixture.sql statement {i}: {e}")

        expected = json.loads(read(os.path.join(HERE, "expected.json")))
        rs = reports()
        if sorted(rs) != sorted(expected):
            failures.append(f"reports/ has {sorted(rs)} but expected.json has {sorted(expected)}")
        compare(q, rs, expected, "", failures)

        # Then activations with channels the contract does not name.
        for i, st in enumerate(split_statements(read(os.path.join(HERE, "fixture_channels.sql"))), 1):
            try:
                q(st)
            except Exception as e:  # noqa: BLE001
                failures.append(f"fixture_channels.sql statement {i}: {e}")
        expected = json.loads(read(os.path.join(HERE, "expected_channels.json")))
        compare(q, {n: rs[n] for n in expected}, expected, " (fixture_channels.sql)", failures)

        # Then outcomes of every service, regions and a new person: the
        # reports of expected_services.json.
        for i, st in enumerate(split_statements(read(os.path.join(HERE, "fixture_services.sql"))), 1):
            try:
                q(st)
            except Exception as e:  # noqa: BLE001
                failures.append(f"fixture_services.sql statement {i}: {e}")
        expected = json.loads(read(os.path.join(HERE, "expected_services.json")))
        compare(q, {n: rs[n] for n in expected}, expected, " (fixture_services.sql)", failures)

        # Then residence-permit events and conflicts: every fast path against
        # its plain query, and the analyst questions of README.md.
        for i, st in enumerate(split_statements(read(os.path.join(HERE, "fixture_views.sql"))), 1):
            try:
                q(st)
            except Exception as e:  # noqa: BLE001
                failures.append(f"fixture_views.sql statement {i}: {e}")
        check_oracles(q, rs, failures)
        check_questions(q, failures)
    finally:
        sess.close()

    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
