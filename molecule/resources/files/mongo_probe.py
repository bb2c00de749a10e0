"""Run MongoDB checks as given on stdin (JSON), print one line per check.

  mongo_probe.py LOGINS   LOGINS: a root-only JSON file
                          {"app": {"user": ..., "password": ..., "auth_source": ...}, ...}
stdin: {"port": 27017,
        "checks": [{"name": ..., "as": "app" (omit: unauthenticated),
                    "password": ... (overrides the login's),
                    "op": "ping|find|insert|create_index|create_user|read_marker",
                    "db": "mrq", "value": ..., "expect": "ok|refused"}, ...]}
Exit 1 if any check does not behave as expected. Passwords come from the
file, never on the command line or stdin (which Ansible shows at -vvv). Works with pymongo 3.x and 4.x.
"""

import json
import sys

import pymongo
from pymongo.errors import OperationFailure, PyMongoError

spec = json.load(sys.stdin)
with open(sys.argv[1]) as f:
    logins = json.load(f)
failed = 0
for check in spec["checks"]:
    kwargs = {"serverSelectionTimeoutMS": 5000}
    if check.get("as"):
        login = logins[check["as"]]
        kwargs.update(
            username=login["user"],
            password=check.get("password", login["password"]),
            authSource=login.get("auth_source", "admin"),
        )
    client = pymongo.MongoClient(spec.get("host", "127.0.0.1"), spec["port"], **kwargs)
    db = client[check.get("db", "mrq")]
    op = check["op"]
    try:
        if op == "ping":
            db.command("ping")
        elif op == "find":
            db.probe.find_one()
        elif op == "insert":
            db.probe.insert_one({"probe": check.get("value", 1)})
        elif op == "create_index":
            db.probe.create_index("probe")
        elif op == "drop_database":
            client.drop_database(check.get("db", "mrq"))
        elif op == "create_user":
            db.command("createUser", "probe-intruder", pwd="x" * 16, roles=["root"])
        elif op == "read_marker":
            doc = db.probe.find_one({"probe": check["value"]})
            if doc is None:
                raise LookupError(f"document {check['value']!r} not found")
        outcome, detail = "ok", ""
    except OperationFailure as exc:
        outcome, detail = "refused", f"code {exc.code}"
    except (PyMongoError, LookupError) as exc:
        outcome, detail = "error", str(exc)[:200]
    finally:
        client.close()
    good = outcome == check["expect"]
    failed += not good
    print(f"{'PASS' if good else 'FAIL'} {check['name']}: {outcome} {detail}".rstrip())
sys.exit(1 if failed else 0)
