"""The storyboard format: load the YAML, check it against the schema and the rules, resolve it."""
