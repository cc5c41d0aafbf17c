"""The promotions emulation."""
