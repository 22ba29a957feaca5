"""Postmortem drafts: the facts an incident left in the database, laid out after the seeds' templates."""
