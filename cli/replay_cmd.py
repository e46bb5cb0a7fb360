"""``aion replay``: replay histories against today's code and report divergences."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import click
from rich.console import RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import aion
from aion import fixtures
from aion.events import Event

from .app import App
from .errors import EXIT_FAILED, EXIT_OK, classify
from .finding import code_for, require_code
from .loader import Code
from .options import common_options, format_option
from .output import divergence_panel, replay_line, replay_summary
from .sources import is_fixture_path

#: Divergence panels shown after ``--all``; the summary table lists every one.
MAX_PANELS = 3


def _replayer(code: Code) -> aion.Replayer:
    require_code(code, "replay")
    return aion.Replayer(code.workflows.values(), code.activities.values())


def _as_json(result: aion.ReplayResult, verdict: str | None = None) -> dict[str, Any]:
    div = result.divergence
    return {
        "workflow_id": result.workflow_id,
        "ok": result.ok,
        "status": result.status,
        "stopped_at": result.stopped_at,
        "events": result.events,
        "error": None if result.error is None or div is not None else str(result.error),
        "divergence": None
        if div is None
        else {
            "seq": div.seq,
            "recorded": div.recorded,
            "current": div.current,
            "context": list(div.context),
        },
        "fixture_check": verdict,
    }


#: The columns of ``aion replay --format csv``: one row per history replayed.
CSV_HEADER = (
    "workflow_id",
    "ok",
    "status",
    "stopped_at",
    "events",
    "divergence_seq",
    "error",
    "fixture_check",
)


def _csv_row(record: dict[str, Any]) -> list[Any]:
    div = record["divergence"]
    return [
        record["workflow_id"],
        "true" if record["ok"] else "false",
        record["status"],
        record["stopped_at"],
        record["events"],
        None if div is None else div["seq"],
        record["error"],
        record["fixture_check"],
    ]


def _exit_code(results: Sequence[aion.ReplayResult], unexpected: set[str]) -> int:
    code = EXIT_OK
    for result in results:
        if result.divergence is not None:
            if result.workflow_id in unexpected:
                code = max(code, EXIT_FAILED)
        elif not result.ok and result.error is not None:
            code = max(code, classify(result.error)[0])
    if code == EXIT_OK and unexpected:
        code = EXIT_FAILED
    return code


def _replay_all(app: App, fmt: str) -> int:
    histories = app.backend().histories()  # one scan: linear in the total history size
    replayer = _replayer(code_for(app, histories.values(), origin="the database's histories"))
    results: list[aion.ReplayResult] = []
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=app.err,
        disable=not app.err.is_terminal,
        transient=True,
    )
    with progress:
        task = progress.add_task("replay", total=len(histories))
        for result in replayer.replay_many(histories.items()):
            results.append(result)
            progress.advance(task)
    summary = aion.Replayer.summarise(results)
    diverged = {r.workflow_id for r in results if r.divergence is not None}
    if fmt == "csv":
        app.echo_csv(CSV_HEADER, (_csv_row(_as_json(r)) for r in results))
    elif fmt == "json":
        app.echo_json(
            {
                "replayed": summary.replayed,
                "ok": summary.ok,
                "diverged": summary.diverged,
                "errors": summary.errors,
                "results": [_as_json(r) for r in results],
            }
        )
    else:
        app.show(replay_summary(summary))
        shown = [r.divergence for r in results if r.divergence is not None][:MAX_PANELS]
        for div in shown:
            app.show(divergence_panel(div))
        if summary.diverged > len(shown):
            app.note(
                f"{summary.diverged - len(shown)} more divergences: `aion replay ID` shows each."
            )
    return _exit_code(results, diverged)


def fixture_code(app: App, fixture: fixtures.Fixture) -> Code:
    """The code to replay a fixture against: ``-m`` if given, else the code it records."""
    return code_for(
        app, [fixture.events], origin=fixture.path or "the fixture", declared=fixture.module
    )


def _fixture_results(
    app: App, paths: Sequence[str]
) -> Iterator[tuple[aion.ReplayResult, str | None, str]]:
    for path in paths:
        fixture = fixtures.load(path)
        code = fixture_code(app, fixture)
        result = next(_replayer(code).replay_many([(fixture.workflow_id, fixture.events)]))
        yield result, fixtures.check(fixture, result), path


def _replay_refs(app: App, refs: Sequence[str], fmt: str) -> int:
    results: list[aion.ReplayResult] = []
    unexpected: set[str] = set()
    rendered: list[RenderableType] = []
    records: list[dict[str, Any]] = []
    fixture_refs = [r for r in refs if is_fixture_path(r)]
    db_refs = [r for r in refs if not is_fixture_path(r)]
    for result, problem, path in _fixture_results(app, fixture_refs):
        results.append(result)
        if problem is not None:
            unexpected.add(result.workflow_id)
        note = f"{path}: {problem}" if problem else f"{path}: as expected"
        rendered.append(replay_line(result, note))
        if result.divergence is not None:
            rendered.append(divergence_panel(result.divergence))
        records.append(_as_json(result, problem or "as expected"))
    if db_refs:
        backend = app.backend()
        histories: list[tuple[str, Sequence[Event]]] = [
            (ref, backend.history(ref)) for ref in db_refs
        ]
        origin = f"the history of {db_refs[0]!r}" if len(db_refs) == 1 else "the histories"
        replayer = _replayer(code_for(app, [h for _, h in histories], origin=origin))
        for result in replayer.replay_many(histories):
            results.append(result)
            if result.divergence is not None:
                unexpected.add(result.workflow_id)
            rendered.append(replay_line(result))
            if result.divergence is not None:
                rendered.append(divergence_panel(result.divergence))
            records.append(_as_json(result))
    if fmt == "csv":
        app.echo_csv(CSV_HEADER, (_csv_row(r) for r in records))
    elif fmt == "json":
        app.echo_json(records)
    else:
        app.show(*rendered)
    return _exit_code(results, unexpected)


@click.command(name="replay")
@click.argument("refs", nargs=-1, metavar="[ID | FILE.json]...")
@click.option("--all", "replay_all", is_flag=True, help="Replay every workflow in the database.")
@common_options
@format_option
@click.pass_obj
def replay(
    app: App,
    refs: tuple[str, ...],
    replay_all: bool,
) -> None:
    """Replay histories against today's code, executing nothing for real.

    Replays workflow IDs from the database, every workflow (--all), or fixture
    files (checked against the outcome they expect). Exits 0 when every
    history replays deterministically, 1 with a divergence report showing what
    history recorded beside what the code does now. The code is the one the
    history (or fixture) records, imported by name from the import path only
    (never a file, never the current directory unless --path names it); -m
    overrides it.
    """
    if replay_all == bool(refs):
        app.fail(
            "give workflow ids or fixture files, or --all (not both, not neither).",
            "e.g. aion replay --all -m myapp.flows",
        )
    fmt = app.output_format()
    code = _replay_all(app, fmt) if replay_all else _replay_refs(app, refs, fmt)
    if code != EXIT_OK:
        app.close()
        raise click.exceptions.Exit(code)
