"""What importing aion loads: only what the importing code uses (speed itself is a benchmark).

``import aion`` is paid by every process that uses aion: a worker, a script
reading a history, each replay interpreter of the determinism kit. The heavy
packages (duckdb, rich, click, psycopg, cattrs) load only on the path that
needs them. These tests read ``sys.modules`` of a fresh process, so they fail
the day an eager import creeps back in, however fast the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("duckdb", "rich", "click", "psycopg", "cattrs")

PROBE = """
import json, sys
{code}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))))
"""


def loaded(code: str) -> set[str]:
    """The heavy top-level packages a fresh interpreter holds after running ``code``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_aion_loads_no_heavy_package() -> None:
    assert loaded("import aion") == set()


def test_the_public_names_still_resolve_after_a_plain_import() -> None:
    # `aion.events.X` after `import aion`, as before it was loaded on first use.
    assert loaded("import aion\nassert aion.events.WorkflowStarted.__name__") == set()


def test_the_store_package_imports_no_driver() -> None:
    assert loaded("import aion.store\nfrom aion.store import MemoryStore, Store") == set()


def test_the_codec_builds_its_converter_only_when_a_value_needs_it() -> None:
    plain = "from aion import codec\nassert codec.to_jsonable({'a': [1, 'b']}) == {'a': [1, 'b']}"
    assert loaded(plain) == set()
    dated = "import datetime\nfrom aion import codec\ncodec.to_jsonable(datetime.date(2026, 1, 1))"
    assert loaded(dated) == {"cattrs"}
    assert loaded("from aion import codec\ncodec.CONVERTER.unstructure(1)") == {"cattrs"}


def test_a_duckdb_store_loads_duckdb_when_asked_for() -> None:
    assert "duckdb" in loaded("from aion.store import DuckDBStore")
    assert "duckdb" in loaded("import aion\naion.DuckDBStore")


SERVER = """
import io, runpy, sys
sys.argv = ["_isolated.py"]
sys.stdin = io.StringIO()  # no request: the server imports, then stdin ends
runpy.run_path({path!r}, run_name="__main__")
"""


def test_a_replay_server_of_the_kit_imports_only_what_a_replay_needs() -> None:
    # Each assert_deterministic call starts a dozen of these, one per hash seed.
    path = str(ROOT / "aion" / "testing" / "_isolated.py")
    assert loaded(SERVER.format(path=path)) == set()


def test_the_kit_imports_duckdb_only_for_store_duckdb() -> None:
    assert loaded("import aion.testing") == set()
