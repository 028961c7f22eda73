"""Domain core of popstats: periods, codes, validation, tables and releases."""

__version__ = "0.1.0"
