"""Strawberry GraphQL types; ``schema.schema`` assembles them, ``schema.graphql`` is the SDL."""
