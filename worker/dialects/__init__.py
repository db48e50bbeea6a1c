"""Client dialects: each parses its own request shape into the IR and renders events in its own shape."""
