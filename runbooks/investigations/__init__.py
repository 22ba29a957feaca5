"""Read-only investigations: what a responder would otherwise read in a terminal (logs, ECS
tasks, target health), each run under its own time limit and reported as a ``Finding``."""
