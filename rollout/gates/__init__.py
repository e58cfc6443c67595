"""Health gates: one file per implementation, each registered in :data:`GATES`."""
