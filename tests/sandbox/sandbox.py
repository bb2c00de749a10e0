#!/usr/bin/env python3
"""sandbox: throw-away Debian test hosts for this project (systemd-nspawn).

The entry point (this path is what the mrq-lab script, the molecule playbooks
and the README call). The code is in the mrqsandbox package next to it; its
docstring, printed by `sandbox.py --help`, describes the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mrqsandbox.cli import main

if __name__ == "__main__":
    main()
