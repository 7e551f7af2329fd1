"""
A current ClickHouse engine for tests: chDB (PyPI `chdb`, the ClickHouse engine in-process) behind a
JSON-lines protocol, driven by test/support/chdb.ts.

One session (one database directory, given as the only argument) for the whole process, so tables
created by one request are there for the next. Reads one JSON request per line from stdin:

    {"id": 1, "sql": "SELECT {n:UInt8} + 1 AS x FORMAT JSONEachRow", "params": {"n": "1"}}

`params` are the values exactly as a ClickHouse HTTP client sends them in `param_<name>` (escaped text
form: `['a','b']` for an Array(String), `it\\'s` for a String); the engine parses them into the declared
`{name:Type}` types with its own rules, as a server does for `param_*` on HTTP. Answers one JSON line per
request, in order:

    {"id": 1, "ok": true, "data": "{\"x\":2}\n"}
    {"id": 2, "ok": false, "code": 62, "error": "Code: 62. DB::Exception: Syntax error ..."}

The first line written, before any request is read, is {"ready": true, "version": "<engine version>"}.
"""

import json
import re
import sys

import chdb

CODE = re.compile(r"Code: (\d+)")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: chdb_runner.py <session directory>")
    conn = chdb.connect(sys.argv[1])
    version = str(conn.query("SELECT version()", "TabSeparated")).strip()
    out = sys.stdout
    out.write(json.dumps({"ready": True, "version": version}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            # TabSeparated unless the statement names its own FORMAT (as HTTP clients append it).
            res = conn.query(req["sql"], "TabSeparated", params=req.get("params") or None)
            data = res.bytes().decode("utf-8") if hasattr(res, "bytes") else str(res)
            answer = {"id": req["id"], "ok": True, "data": data}
        except Exception as err:  # every engine error goes back to the caller, which fails the test
            text = str(err)
            m = CODE.search(text)
            answer = {"id": req["id"], "ok": False, "code": int(m.group(1)) if m else 0, "error": text}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
