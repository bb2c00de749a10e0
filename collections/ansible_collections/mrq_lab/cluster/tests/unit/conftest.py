"""Make `ansible_collections.mrq_lab.cluster` importable as Ansible sees it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[5]))
# The repository's tests/: the redis-server helper shared with the app's tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[6] / "tests"))
