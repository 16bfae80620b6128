"""Bottom layer: paths, atomic I/O, provenance, argument checks, plain table writers."""
