"""The `dacu analyze` command groups, one module per group, each with `register(analyze_app)`
called by `dacu.analyze.commands.register` (no registration by import side effect)."""
