"""Synthetic metric charts for the `chart-vit` model.

`patterns` makes the time series (one per chart pattern), `render` draws them as dashboard
screenshots in several style families, and `dataset` turns both into labelled, reproducible
examples, with one style family held out for evaluation only.
"""
