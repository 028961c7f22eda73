"""Seeded generator of a realistic synthetic household-register extract (``popstats sample``)."""

from sample_data.generator import SampleSummary, write_sample

__all__ = ["SampleSummary", "write_sample"]
