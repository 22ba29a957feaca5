"""Scheduled jobs: each opens its own session, calls the core, and reports what it did."""
