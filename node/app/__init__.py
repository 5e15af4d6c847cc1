"""The application layer: the `yiwang run` composition root and the local gRPC API. Only this
layer and the CLI wire storage, services, sync and transport together."""
