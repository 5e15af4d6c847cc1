"""One yiwang node: domain (pure), storage, use cases, CLI and runtime."""
