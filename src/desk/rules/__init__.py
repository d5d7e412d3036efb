"""Pure business rules: values in, values out, ``now`` a parameter. No database, no UI."""
