"""GraphQL resolvers, one module per domain, and the per-request DataLoaders."""
