"""Live price providers (one interface: providers.base.LiveProvider) and Azure actual spend."""
