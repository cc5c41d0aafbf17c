"""mocksrv: an offline sandbox for Amazon partner integrations (AGCOD, Prime offer codes, Promotions)."""

__version__ = "0.1.0"
