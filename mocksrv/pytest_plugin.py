"""pytest plugin entry point (registered as `pytest11`); fixtures arrive with the toolkit."""
