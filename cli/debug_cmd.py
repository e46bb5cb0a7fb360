"""``aion debug``: an offline, interactive stepper over a recorded run."""

from __future__ import annotations

import os
from collections.abc import Sequence

import click
from rich.console import Group, RenderableType
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text

from aion.describe import event_line
from aion.events import Event

from .app import App
from .finding import code_for, require_code
from .options import common_options
from .output import divergence_panel
from .replay_cmd import fixture_code
from .safe import clean, data
from .sources import load_source
from .stepper import Stepper, parse_break

HELP = """commands:
  next (n)              feed the next recorded event
  continue (c)          run to the next breakpoint or the end
  break (b) SEQ         stop after the event with this seq
  break (b) FILE:LINE   stop when the workflow is suspended at this line
  locals (l)            the workflow's local variables here
  where (w)             the source line it is suspended at, with context
  history (h)           the events fed so far
  quit (q)              leave the debugger"""


def _rel(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def render_step(stepper: Stepper, event: Event | None) -> RenderableType:
    """One line per step: the event fed, and where the code now waits."""
    if event is None:
        return Text(f"end of history: the workflow is {stepper.status()}.")
    text = data(event_line(event))
    where = stepper.location()
    if where is not None:
        text.append(clean(f"  → {_rel(where[0])}:{where[1]}"), style="dim")
    elif stepper.status() != "running":
        text.append(f"  → workflow {stepper.status()}", style="dim")
    parts: list[RenderableType] = [text]
    if stepper.divergence is not None:
        parts.append(divergence_panel(stepper.divergence))
    return Group(*parts)


def render_locals(stepper: Stepper) -> RenderableType:
    """The suspended frame's variables, pretty-printed."""
    values = stepper.locals()
    if not values:
        return Text("no frame: the workflow is not suspended at a yield.")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in values.items():
        table.add_row(data(name), Pretty(value))
    return table


def render_where(stepper: Stepper) -> RenderableType:
    """The suspension point with two lines of context either side."""
    where = stepper.location()
    if where is None:
        return Text(f"no frame: the workflow is {stepper.status()}.")
    lines = [data(f"{_rel(where[0])}:{where[1]}", "bold")]
    for number, text, current in stepper.source_context():
        lines.append(
            data(f"{'→' if current else ' '} {number:4d}  {text}", "bold" if current else "")
        )
    return Group(*lines)


def render_history(stepper: Stepper) -> RenderableType:
    """The events fed so far."""
    if not stepper.consumed:
        return Text("nothing fed yet: `next` feeds seq 1.")
    return Group(*(data(event_line(e)) for e in stepper.consumed))


def _interact(app: App, stepper: Stepper) -> None:
    app.show(
        data(
            f"debugging {stepper.workflow_id}: {len(stepper.events)} recorded events. "
            "`help` lists commands."
        )
    )
    while True:
        try:
            line = app.out.input("(aion) ")
        except EOFError:
            return
        word, _, arg = line.strip().partition(" ")
        word = word or "next"
        if word in ("q", "quit", "exit"):
            return
        if word in ("n", "next", "s", "step"):
            app.show(render_step(stepper, stepper.step()))
        elif word in ("c", "continue"):
            app.show(render_step(stepper, stepper.run()))
        elif word in ("b", "break"):
            seq, where = parse_break(arg.strip())
            if seq is not None:
                stepper.seq_breaks.add(seq)
                app.show(f"breakpoint at seq {seq}")
            elif where is not None:
                stepper.line_breaks.add(where)
                app.show(f"breakpoint at {where[0]}:{where[1]}")
            else:
                app.show("usage: break SEQ | break FILE:LINE")
        elif word in ("l", "locals"):
            app.show(render_locals(stepper))
        elif word in ("w", "where"):
            app.show(render_where(stepper))
        elif word in ("h", "history"):
            app.show(render_history(stepper))
        else:
            app.show(HELP)


SHOWS = {"locals": render_locals, "where": render_where, "history": render_history}


@click.command(name="debug")
@click.argument("ref", metavar="ID|FILE.json")
@common_options
@click.option(
    "--until",
    "until",
    type=int,
    metavar="SEQ",
    help="Run to this seq without prompting, then --show.",
)
@click.option(
    "--break",
    "breaks",
    multiple=True,
    metavar="SEQ|FILE:LINE",
    help="Set a breakpoint first; repeatable.",
)
@click.option(
    "--show",
    "shows",
    multiple=True,
    type=click.Choice(sorted(SHOWS)),
    help="With --until: what to print there (repeatable).",
)
@click.pass_obj
def debug(
    app: App,
    ref: str,
    until: int | None,
    breaks: Sequence[str],
    shows: Sequence[str],
) -> None:
    """Step through a recorded run of workflow ID (or a fixture) against its code.

    The workflow code runs against the recording (nothing is executed for
    real), so at every step you can see its local variables and where it
    waits. Interactive by default; with --until SEQ it runs there and prints
    what --show asks for (locals, where, history), for scripts.
    """
    source = load_source(app, ref)
    code = require_code(
        fixture_code(app, source.fixture)
        if source.fixture is not None
        else code_for(app, [source.events], origin=f"the history of {ref!r}"),
        "debugging",
    )
    stepper = Stepper(source.workflow_id, source.events, code)
    for arg in breaks:
        seq, where = parse_break(arg)
        if seq is not None:
            stepper.seq_breaks.add(seq)
        elif where is not None:
            stepper.line_breaks.add(where)
        else:
            app.fail(
                f"--break {arg!r} is neither a seq nor FILE:LINE.",
                "e.g. --break 4 or --break flows.py:31",
            )
    if until is None:
        _interact(app, stepper)
        return
    stepper.seq_breaks.add(until)
    app.show(render_step(stepper, stepper.run()))
    for what in shows or ("locals",):
        app.show(SHOWS[what](stepper))
