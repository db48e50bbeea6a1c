"""A built-in stand-in for QwQ-32B, so the gateway answers on a fresh machine with no upstream at all."""
