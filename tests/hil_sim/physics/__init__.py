"""Device physics tests (a package: their file names mirror the optimiser's tests)."""
