"""Stage 4: the network, its training, export, and its use on images (tiling, post-processing, prediction)."""
