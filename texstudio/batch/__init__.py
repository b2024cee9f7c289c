"""Batch synthesis, Qt-free: many exemplars x settings x seeds x sizes into one folder.

``spec`` reads what to do (a folder of photos, or a JSON/TOML job file), ``plan`` turns
it into jobs with stable ids, ``runner.run_batch`` skips finished jobs and hands the rest
to an executor (``sequential`` in-process, ``pool`` of local processes, ``ray``), and
``summary`` writes the CSV/JSON report. Every executor is a generator of the events in
``events``, so the CLI's progress bar and the GUI's batch panel read the same stream.
"""
