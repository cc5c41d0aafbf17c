"""Scenario files: loading, schema, validation, and the shared model."""
