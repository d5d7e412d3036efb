"""What an operator edits or supplies, shipped with desk: ``policy.toml`` (the default
policy), ``knowledge/`` (knowledge-base articles) and ``mappings/`` (column mappings for
imports). Read through :mod:`importlib.resources` as the package ``desk.data``."""
