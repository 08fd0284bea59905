"""Stage 2: exit waves by multislice, their ground-truth labels, and the splits' shards."""
