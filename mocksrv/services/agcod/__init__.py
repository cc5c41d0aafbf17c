"""The agcod emulation."""
