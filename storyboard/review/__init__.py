"""What the director and the client look at: the shot list."""
