"""Thin edges: parse and verify what arrives, call the core, answer."""
