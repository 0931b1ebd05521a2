"""Experiment runners: grids of engine runs that the figures of :mod:`fltheory.plots` draw.

A runner executes configurations on the one engine (:func:`fltheory.fl.simulate`), measures what
its figure needs from the run and its recorded messages, and returns a JSON-ready result object;
the drawing code never runs anything.

* :mod:`fltheory.experiments.compression_runs` -- experiment 8: compression for private and
  robust FL, measured (accuracy, bits, certified ε, aggregation time, robust error vs its
  prediction).
"""
