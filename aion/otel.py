"""OpenTelemetry for aion: one span per workflow run and per activity attempt.

``pip install 'aion[otel]'``, configure OpenTelemetry as usual (a tracer
provider with an exporter), and give the engine a `Tracing`::

    engine = aion.Engine("orders.duckdb", workflows=[...], activities=[...],
                         tracing=aion.otel.Tracing())

A run's span (``aion.workflow TYPE``) starts at the run's recorded start and
ends when its end is committed, with ``aion.status``; each activity attempt
is a child span (``aion.activity NAME``) from dispatch to outcome, marked as
an error when the attempt failed. Replay makes no spans, so nothing is
reported twice; a run taken back after a restart gets a fresh span from its
recorded start, marked ``aion.recovered``.
"""

from aion._engine._tracing import Tracing as Tracing

__all__ = ["Tracing"]
