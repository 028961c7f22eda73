"""Migration scripts, applied in order by ``access.db.upgrade``."""
