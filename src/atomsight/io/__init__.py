"""Reading microscope files (through RosettaSciIO) and writing results: the pipeline's boundary with the outside."""
