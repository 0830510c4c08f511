"""CLI commands that span several subpackages, one module per command (registered by ``cli``)."""
