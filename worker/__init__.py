"""qwq-gateway: an edge gateway for QwQ-32B speaking the Workers AI, OpenAI and Anthropic contracts."""

__version__ = "0.1.0"
