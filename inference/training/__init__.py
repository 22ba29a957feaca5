"""Training the worker's models from the project's own data, deterministically for a seed."""
