"""Labelled data that ships with the worker: the incident text corpus."""
