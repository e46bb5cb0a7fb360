"""Regenerate ``replay_fixtures/`` from the sample workflows: ``python -m tests.fixture_gen``.

Every `tests.fixture_workflows.SAMPLES` case is run in an
`aion.testing.WorkflowEnvironment` (virtual time, scripted signals). Its
history is written as ``replay_fixtures/<case>/good.json`` with the outcome
its replay reaches, and as ``replay_fixtures/<case>/bad.json`` pointing at
`tests.fixture_workflows_v2`, whose changed code must be reported at the
seq recorded in ``expect``. Generation fails if a bad twin is not reported,
or if a good history does not replay against the code that recorded it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import aion
from aion import fixtures
from aion._definitions import Registry
from aion.testing import WorkflowEnvironment
from tests import fixture_workflows as v1
from tests import fixture_workflows_v2 as v2

ROOT = Path(__file__).resolve().parent.parent / "replay_fixtures"
GOOD_MODULE = "tests.fixture_workflows"
BAD_MODULE = "tests.fixture_workflows_v2"


def registry_of(module: Any) -> Registry:
    """Every workflow and activity a module defines or imports."""
    workflows, activities = [], []
    for value in vars(module).values():
        if getattr(value, "__aion_workflow__", None) is not None:
            workflows.append(value)
        if getattr(value, "__aion_activity__", None) is not None:
            activities.append(value)
    return Registry(workflows, activities)


def record(sample: v1.Sample) -> list[Any]:
    """Run one sample in a WorkflowEnvironment and return its history."""
    registry = registry_of(v1)
    workflows = [w.fn for w in registry.workflows.values()]
    activities = [a.fn for a in registry.activities.values()]
    with WorkflowEnvironment(workflows=workflows, activities=activities) as env:
        for at, name, payload in sample.signals:
            env.signal_at(at, name, payload)
        run = env.run(sample.workflow, *sample.args, workflow_id=sample.case)
        return list(run.history)


def generate(root: Path = ROOT) -> list[Path]:
    """Write every good fixture and its bad twin; return the paths written."""
    written = []
    if root.exists():
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
    good_registry, bad_registry = registry_of(v1), registry_of(v2)
    for sample in v1.SAMPLES:
        history = record(sample)
        name = aion._definitions.workflow_definition(sample.workflow).name
        good = aion.replay(name, history, registry=good_registry, workflow_id=sample.case)
        if not good.ok:
            msg = f"{sample.case}: the good history does not replay: {good.error}"
            raise SystemExit(msg)
        bad = aion.replay(name, history, registry=bad_registry, workflow_id=sample.case)
        if bad.divergence is None:
            msg = f"{sample.case}: the changed code in {BAD_MODULE} is not reported"
            raise SystemExit(msg)
        folder = root / sample.case
        folder.mkdir(parents=True, exist_ok=True)
        for kind, module, result in (("good", GOOD_MODULE, good), ("bad", BAD_MODULE, bad)):
            data = fixtures.to_dict(
                sample.case, history, expect=fixtures.expectation(result), module=module
            )
            path = folder / f"{kind}.json"
            fixtures.write(path, data)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT, help="where to write (default: replay_fixtures/)"
    )
    args = parser.parse_args()
    paths = generate(args.out)
    print(f"wrote {len(paths)} fixtures to {args.out}")


if __name__ == "__main__":
    main()
