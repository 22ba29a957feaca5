"""`/incident` and its subcommands, one small module each."""
