#!/usr/bin/env python3
"""Times idlink's reports on the current ClickHouse engine, in-process in chdb.

Usage: python3 chdb_reports.py SPEC.json DBDIR

SPEC.json (written by idlink-bench's reports-current phase) holds the
migrations' statements, the statements seeding the synthetic dataset
(analytics.SyntheticSQL), every report's query and the runs of each. The
script applies the migrations in a fresh database under DBDIR, seeds it,
merges every MergeTree table (OPTIMIZE ... FINAL, as background merges leave
them once a bulk load has settled), runs each report the given number of
times and prints one JSON document: the engine's version, the seeding and
merging seconds, and for each report its rows and the milliseconds of each
run.
"""

import json
import sys
import time


def main():
    from chdb import session

    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    sess = session.Session(sys.argv[2])

    def q(sql, fmt="JSONCompact"):
        res = sess.query(sql, fmt)
        err = getattr(res, "error_message", None)
        if callable(err):
            err = err()
        if err:
            raise RuntimeError(f"{err}\nin: {sql[:300]}")
        return res.bytes().decode() if hasattr(res, "bytes") else str(res)

    try:
        out = {"version": json.loads(q("SELECT version() AS v"))["data"][0][0]}
        q("CREATE DATABASE IF NOT EXISTS idlink_bench")
        q("USE idlink_bench")
        for stmts in spec["migrations"]:
            for st in stmts:
                q(st)
        start = time.perf_counter()
        for st in spec["seed"]:
            q(st)
        out["seed_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        tables = json.loads(q("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' ORDER BY name"))
        for (name,) in tables["data"]:
            q(f"OPTIMIZE TABLE `{name}` FINAL")
        out["merge_seconds"] = time.perf_counter() - start
        out["reports"] = []
        for name in spec["order"]:
            sql, runs, rows = spec["reports"][name], [], 0
            for _ in range(spec["runs"]):
                start = time.perf_counter()
                rows = len(json.loads(q(sql))["data"])
                runs.append((time.perf_counter() - start) * 1000)
            out["reports"].append({"name": name, "rows": rows, "ms": runs})
    finally:
        sess.close()
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
