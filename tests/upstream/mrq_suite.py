#!/usr/bin/env python3
"""MRQ's own test suite (pricingassistant/mrq at tag 0.9.10) against a deployed venv.

An external check, not part of `./mrq-lab test`: MRQ's tests are not this project's
code. Usage, on the controller, after `./mrq-lab demo`:

    git clone https://github.com/pricingassistant/mrq /path/to/mrq   (any clone or mirror)
    python3 tests/upstream/mrq_suite.py /path/to/mrq [--host 10.231.7.100] [-- PYTEST_ARGS]

What it does on the sandbox host (which it leaves as it found it, its services running):
- stops the deployed MRQ units, Redis and mongod: the suite starts its own redis-server
  and mongod on loopback 6379/27017 for every test, as upstream's fixtures do (`mongod`
  there is the TEST STAND-IN, SecantusDB, with a throw-away data directory);
- unpacks the tag's tests at /app (where upstream's Docker ran them; its nginx fixture
  says /app) with `mrq/` a link to the DEPLOYED package in /opt/mrq/venv: the suite tests
  what was deployed, with mrqlab's fixes applied by the venv's mrqlab-compat.pth;
- runs pytest with an interpreter whose sys.path is the deployed venv's site-packages
  first, then a side venv holding only what the tests need and the product does not
  (pytest, pytest-timeout, pytest-httpbin, requests, ujson);
- prints pass / fail / environment per file (ENVIRONMENT below says why each of those
  cannot pass here) and exits 1 if a test outside ENVIRONMENT failed.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

TAG = "0.9.10"
STATE = Path(os.environ.get("MRQ_SANDBOX_STATE", "/var/lib/mrq-sandbox"))
SIDE_PACKAGES = ["pytest==8.3.5", "pytest-timeout==2.3.1", "pytest-httpbin==2.1.0", "requests", "ujson"]

# Tests that cannot pass on this machine, whatever MRQ does: test id prefix -> why.
PYTHON2 = "written for Python 2, where bytes are str"
STANDIN = "a time bound on MongoDB-backed work, which the TEST STAND-IN (~250 jobs/s here) cannot meet"
ENVIRONMENT: dict[str, str] = {
    "test_disconnects.py::test_redis_disconnections": (
        "Redis >= 7 names subcommands `client|list` in CLIENT LIST, the test filters `client`: it "
        "counts its own connection (Redis 7.0 is Debian 12's)"
    ),
    "test_logger.py::test_supports_string_and_unicode[latin-1": (
        f"{PYTHON2}: on Python 3 'caf\\xe9' is 'café', which the test says must not be logged"
    ),
    "test_performance.py::test_performance_simpleadds_regular": STANDIN,
    "test_performance.py::test_performance_queue_cancel_requeue": STANDIN,
    "test_context.py::test_context_connections_redis": (
        f"{PYTHON2}: on Python 3 MRQ 0.9.10's own Redis client "
        "returns bytes (decode_responses=False, mrq/context.py) and must, as regular queues keep "
        "binary job ids in Redis; test_raw.py asserts that same client's list_raw_jobs() gives bytes"
    ),
}

HOST_SCRIPT = r"""
set -eu
SUITE=/root/mrq-suite
SITE=$(echo {venv}/lib/python3*/site-packages)
# Nothing of the deployment may start while the suite owns 6379 and 27017.
UNITS=""  # those this release has (an older one has no backup timer)
for unit in redis-server.service mongod.service mrq-scheduler.service mrq-dashboard.service \
  mongodb-backup.timer; do
  if systemctl cat "$unit" >/dev/null 2>&1; then UNITS="$UNITS $unit"; fi
done
WORKERS=$(systemctl list-units --plain --no-legend --state=active 'mrq-worker@*' | cut -d' ' -f1)
systemctl stop $WORKERS $UNITS
systemctl mask --runtime -q $UNITS 'mrq-worker@.service'
rm -rf /app "$SUITE" && mkdir -p /app "$SUITE/bin" "$SUITE/db"
tar -x -C /app -f /tmp/mrq-suite.tar && rm /tmp/mrq-suite.tar
rm -rf /app/mrq && ln -s "$SITE/mrq" /app/mrq
# `--processes` re-executes sys.argv: upstream's mrq/bin scripts are mode 755 in git, pip's 644.
chmod 755 "$SITE/mrq/bin/mrq_worker.py" "$SITE/mrq/bin/mrq_run.py"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null
systemctl disable --now nginx >/dev/null 2>&1 || true
python3 -m venv "$SUITE/venv"
"$SUITE/venv/bin/pip" install -q {packages}
SIDE="$SUITE/venv/lib/$(basename "$(dirname "$SITE")")/site-packages"
# The deployed venv's site-packages before the side venv's (after the standard library),
# its .pth files (mrqlab-compat.pth) processed.
echo "import site, sys; site.addsitedir('$SITE'); sys.path.remove('$SITE'); \
sys.path.insert([p.endswith('site-packages') for p in sys.path].index(True), '$SITE')" \
  > "$SIDE/00-deployed-venv.pth"
if [ "{apply_at_start}" = yes ]; then  # a release from before mrqlab-compat.pth
  printf 'from gevent import monkey\nmonkey.patch_all()\nfrom mrqlab import compat\ncompat.apply()\n' \
    > "$SIDE/mrq_suite_apply.py"
  echo "import mrq_suite_apply" > "$SIDE/01-apply.pth"
fi
cat > "$SUITE/bin/mongod" <<EOF
#!/bin/sh
# upstream's fixture: mongod --smallfiles --noprealloc --nojournal. The TEST STAND-IN instead.
printf 'net:\n  port: 27017\n  bindIp: 127.0.0.1\nstorage:\n  dbPath: $SUITE/db\n' > $SUITE/mongod.conf
exec /usr/bin/mongod -f $SUITE/mongod.conf
EOF
cat > "$SUITE/bin/redis-server" <<EOF
#!/bin/sh
exec /usr/bin/redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --dir $SUITE
EOF
# Upstream's image had `python`; test_context_setup runs it with no PATH (sh's default).
printf '#!/bin/sh\nexec %s "$@"\n' "$SUITE/venv/bin/python" > /usr/local/bin/python
# MRQ's own commands, as `pip install mrq` puts them on PATH (the agent runs `mrq-worker`);
# the host's /usr/local/bin ones carry the deployment's config and user.
for cmd in worker run agent; do
  printf '#!/bin/sh\nexec %s -m mrq.bin.mrq_%s "$@"\n' "$SUITE/venv/bin/python" $cmd > "$SUITE/bin/mrq-$cmd"
done
chmod 755 "$SUITE"/bin/* /usr/local/bin/python
cd /app
set +e
PATH="$SUITE/bin:$PATH" PYTHON_BIN="$SUITE/venv/bin/python" "$SUITE/venv/bin/python" -m pytest tests \
  -p no:cacheprovider -p no:warnings --timeout=240 -v -rfE --junitxml="$SUITE/junit.xml" {pytest_args} \
  > "$SUITE/pytest.log" 2>&1
echo "pytest exit $?"
tail -n 40 "$SUITE/pytest.log"
pkill -f "$SUITE/"; pkill -x redis-server; rm -f /usr/local/bin/python; sleep 1
chmod 644 "$SITE/mrq/bin/mrq_worker.py" "$SITE/mrq/bin/mrq_run.py"
systemctl unmask --runtime -q $UNITS 'mrq-worker@.service'
systemctl start $UNITS
systemctl start $WORKERS
"""


def ssh(host: str, *command: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    key = STATE / "ssh" / "id_ed25519"
    opts = ["-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-q"]
    argv = ["ssh", *opts, f"root@{host}", *command]
    return subprocess.run(argv, input=stdin, capture_output=True, check=False)


def suite_tar(checkout: Path) -> bytes:
    """The tag's tests and task code (a clone, or a bare mirror)."""
    return subprocess.run(
        ["git", "-C", str(checkout), "archive", "--format=tar", TAG, "tests"], capture_output=True, check=True
    ).stdout


def classify(junit: str) -> tuple[dict[str, collections.Counter[str]], list[str]]:
    """Per file: passed / failed / environment / skipped; and the failures outside ENVIRONMENT."""
    per_file: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    real: list[str] = []
    for case in ET.fromstring(junit).iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        test_id = f"{module}.py::{case.get('name')}"
        bad = case.find("failure") is not None or case.find("error") is not None
        if case.find("skipped") is not None:
            outcome = "skipped"
        elif bad and any(test_id.startswith(prefix) for prefix in ENVIRONMENT):
            outcome = "environment"
        elif bad:
            outcome = "failed"
            real.append(test_id)
        else:
            outcome = "passed"
        per_file[f"{module}.py"][outcome] += 1
    return per_file, real


def table(per_file: dict[str, collections.Counter[str]]) -> str:
    rows = ["| file | passed | failed | environment | skipped |", "| --- | --- | --- | --- | --- |"]
    total: collections.Counter[str] = collections.Counter()
    for name in sorted(per_file):
        c = per_file[name]
        total.update(c)
        rows.append(f"| `{name}` | {c['passed']} | {c['failed']} | {c['environment']} | {c['skipped']} |")
    rows.append(
        f"| **all** | {total['passed']} | {total['failed']} | {total['environment']} | {total['skipped']} |"
    )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkout", type=Path, help="a clone (or mirror) of pricingassistant/mrq")
    parser.add_argument("--host", default="10.231.7.100", help="a sandbox host the playbook deployed")
    parser.add_argument("--venv", default="/opt/mrq/venv", help="the MRQ venv to test (an older release's)")
    parser.add_argument(
        "--apply-at-start",
        action="store_true",
        help="for a release without mrqlab-compat.pth: gevent, then compat.apply() in every process",
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest (e.g. tests/test_raw.py)")
    args = parser.parse_intermixed_args()  # options after the checkout too

    put = ssh(args.host, "cat > /tmp/mrq-suite.tar", stdin=suite_tar(args.checkout))
    if put.returncode:
        sys.exit(f"mrq_suite: cannot reach {args.host}: {put.stderr.decode()}")
    script = HOST_SCRIPT.replace("{packages}", " ".join(f"'{p}'" for p in SIDE_PACKAGES))
    script = script.replace("{pytest_args}", " ".join(args.pytest_args)).replace("{venv}", args.venv)
    script = script.replace("{apply_at_start}", "yes" if args.apply_at_start else "no")
    run = ssh(args.host, "bash -s", stdin=script.encode())
    print(run.stdout.decode(), run.stderr.decode()[-3000:], sep="\n")
    junit = ssh(args.host, "cat /root/mrq-suite/junit.xml")
    if junit.returncode:
        sys.exit("mrq_suite: pytest wrote no report")
    with tempfile.NamedTemporaryFile("wb", suffix=".xml", delete=False, prefix="mrq-suite-") as f:
        f.write(junit.stdout)
    per_file, real = classify(junit.stdout.decode())
    print(f"junit report: {f.name}\n\n{table(per_file)}\n")
    for test_id in real:
        print(f"FAILED (not an environment limitation): {test_id}")
    for prefix, why in ENVIRONMENT.items():
        print(f"environment: {prefix}: {why}")
    return 1 if real else 0


if __name__ == "__main__":
    sys.exit(main())
