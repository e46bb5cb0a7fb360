"""The ``aion`` command line: run, control, inspect, replay, export and debug workflows.

Layout (installed as the import package ``aion_cli``):

* ``main``       the root click group and ``main()``, the console-script target
* ``app``        `App`: consoles, the database, and the one place errors become exit codes
* ``output``     pure renderers returning rich renderables (tables, panels)
* ``timeline``   the history timeline and activity attempt summaries (``inspect``)
* ``gantt``      the self-contained HTML Gantt page (``inspect --html``)
* ``loader``     importing user modules and collecting decorated workflows/activities
* ``endpoint``   the loopback control endpoint a running worker serves
* ``backend``    one interface over "talk to the worker" and "open the file directly"
* ``stepper``    the offline debugger's engine (feeds recorded events one at a time)
* ``*_cmd``      one module per command
"""
