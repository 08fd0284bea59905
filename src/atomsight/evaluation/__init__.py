"""Stage 5: evaluation on held-out simulations: matching, scores with confidence intervals, plots; over a grid of
microscope conditions against a classical finder (``grid.py``, ``baseline.py``)."""
