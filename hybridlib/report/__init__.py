"""The report layer: what the chapters show of the measured runs.

:mod:`.tables` (result tables), :mod:`.plots` (figures, Japanese labels), :mod:`.widgets`
(ipywidgets explorers), :mod:`.glue` (MyST-NB glue), :mod:`.analysis` (data and error
analyses) and :mod:`.literature` (cited leaderboard values, never mixed with measurements).
It reads the run registry and never trains by itself except through
:func:`hybridlib.experiments.run`. Introduced in: chapter 5.1.
"""
