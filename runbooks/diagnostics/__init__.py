"""Diagnostics on demand: the checks the seeds run by hand, as steps the bot runs and reports."""
