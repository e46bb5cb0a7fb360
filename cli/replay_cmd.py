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
from .errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, classify
from .loader import Code, load, load_recorded
from .options import common_options
from .output import divergence_panel, replay_line, replay_summary
from .sources import is_fixture_path

#: Divergence panels shown after ``--all``; the summary table lists every one.
MAX_PANELS = 3


def _replayer(code: Code) -> aion.Replayer:
    if not code.workflows:
        msg = "replay needs the workflow code, and no module was given."
        hint = "pass -m MODULE (the module that defines the workflows; repeatable)."
        raise CliError(msg, hint, EXIT_USAGE)
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


def _replay_all(app: App, code: Code, as_json: bool) -> int:
    replayer = _replayer(code)
    histories = app.backend().histories()  # one scan: linear in the total history size
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
    if as_json:
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


def fixture_code(
    app: App, fixture: fixtures.Fixture, modules: Sequence[str], import_path: Sequence[str]
) -> Code:
    """The code to replay a fixture against: ``-m`` if given, else the module it records."""
    if modules or not fixture.module:
        return load(modules, path=import_path)
    return load_recorded(
        [fixture.module], path=import_path, note=app.note, origin=fixture.path or "the fixture"
    )


def _fixture_results(
    app: App, paths: Sequence[str], modules: tuple[str, ...], import_path: tuple[str, ...]
) -> Iterator[tuple[aion.ReplayResult, str | None, str]]:
    for path in paths:
        fixture = fixtures.load(path)
        code = fixture_code(app, fixture, modules, import_path)
        result = next(_replayer(code).replay_many([(fixture.workflow_id, fixture.events)]))
        yield result, fixtures.check(fixture, result), path


def _replay_refs(
    app: App,
    refs: Sequence[str],
    modules: tuple[str, ...],
    import_path: tuple[str, ...],
    as_json: bool,
) -> int:
    results: list[aion.ReplayResult] = []
    unexpected: set[str] = set()
    rendered: list[RenderableType] = []
    records: list[dict[str, Any]] = []
    fixture_refs = [r for r in refs if is_fixture_path(r)]
    db_refs = [r for r in refs if not is_fixture_path(r)]
    for result, problem, path in _fixture_results(app, fixture_refs, modules, import_path):
        results.append(result)
        if problem is not None:
            unexpected.add(result.workflow_id)
        note = f"{path}: {problem}" if problem else f"{path}: as expected"
        rendered.append(replay_line(result, note))
        if result.divergence is not None:
            rendered.append(divergence_panel(result.divergence))
        records.append(_as_json(result, problem or "as expected"))
    if db_refs:
        replayer = _replayer(load(modules, path=import_path))
        backend = app.backend()
        histories: list[tuple[str, Sequence[Event]]] = [
            (ref, backend.history(ref)) for ref in db_refs
        ]
        for result in replayer.replay_many(histories):
            results.append(result)
            if result.divergence is not None:
                unexpected.add(result.workflow_id)
            rendered.append(replay_line(result))
            if result.divergence is not None:
                rendered.append(divergence_panel(result.divergence))
            records.append(_as_json(result))
    if as_json:
        app.echo_json(records)
    else:
        app.show(*rendered)
    return _exit_code(results, unexpected)


@click.command(name="replay")
@click.argument("refs", nargs=-1, metavar="[ID | FILE.json]...")
@click.option("--all", "replay_all", is_flag=True, help="Replay every workflow in the database.")
@common_options
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
    history recorded beside what the code does now. A fixture's recorded
    module is imported by name from the import path only (never a file, never
    the current directory unless --path names it); -m overrides it.
    """
    if replay_all == bool(refs):
        app.fail(
            "give workflow ids or fixture files, or --all (not both, not neither).",
            "e.g. aion replay --all -m myapp.flows",
        )
    modules, import_path, as_json = app.modules, app.import_path, app.as_json
    code = (
        _replay_all(app, load(modules, path=import_path), as_json)
        if replay_all
        else _replay_refs(app, refs, modules, import_path, as_json)
    )
    if code != EXIT_OK:
        app.close()
        raise click.exceptions.Exit(code)
