"""Test helpers that ship with storyboard: fake hosted video APIs on 127.0.0.1."""
