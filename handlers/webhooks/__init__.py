"""Alert webhooks: verify and parse what PagerDuty, SNS and EventBridge post into `AlertSignal`s.

The modules here are pure edges: they check signatures and shapes and raise the exceptions in
`handlers.webhooks.errors`, each of which carries the HTTP status to answer. Storage, grouping and
the HTTP routes are built on top of them.
"""
