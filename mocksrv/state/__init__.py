"""Durable state (`serve --state PATH`): the SQLite database (`db`), the sinks stores write to
(`sink`), and binding a runtime's stores to the database (`bind`)."""
