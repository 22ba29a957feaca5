"""What every process of the product shares about its logs: one JSON line per record, and the
correlation id of the work a record belongs to.

It sits below every other package (the bot's layers and the worker both import it) and imports
nothing of theirs, so the bot and the worker write the same log format without either importing
the other.
"""
