"""Developer and install tools: not part of any service."""
