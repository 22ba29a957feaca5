"""Seed 003's provider failover: each provider's health, the routing between them, and moving
traffic to a backup and back to the primary in canary steps."""
