"""Contract-testing toolkit: journal, expectations, faults, admin API."""
