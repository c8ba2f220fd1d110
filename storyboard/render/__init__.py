"""The render stage: the backend interface, the backend registry and the built-in backends."""
