"""Loaders for the labelled corpora under ``inference/data``."""
