"""Keeping other systems in step with the incident record (PagerDuty)."""
