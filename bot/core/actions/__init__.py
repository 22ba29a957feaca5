"""Guarded response actions: scale, roll back, set flags, emergency stop.

Every action goes through one pipeline (`pipeline.ActionPipeline`): RBAC, a plan that shows
before and after within configured bounds, confirmation, two-person approval where
destructive, a claim on the target so nothing runs twice, the change, verification, and an
audit row plus a timeline event for every attempt.
"""
