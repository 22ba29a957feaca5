"""Runbooks as code: the library's YAML, its schema, and the loader that checks it."""
