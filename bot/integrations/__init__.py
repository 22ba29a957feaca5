"""Providers: the outside systems that runbook actions drive (ECS and SSM, the worker, PagerDuty).

Each provider is a typed ``Protocol`` with one real implementation, so tests swap in local
servers rather than patches. Errors of the libraries underneath are mapped to
``bot.core.ports.errors`` at the boundary.
"""
