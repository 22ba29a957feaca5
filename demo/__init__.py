"""`incident-bot demo`: the whole product on one machine, in a browser, with no Slack workspace.

`demo.cli` adds the command to `incident-bot`; `demo.serve.serve_demo` starts the stack
(demo/stack.py), prints the sandbox's address and runs until Ctrl-C; `demo.script` is the older
scripted transcript (`incident-bot demo --script`).
"""
