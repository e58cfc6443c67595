"""Traffic routers: one file per implementation, each registered in :data:`ROUTERS`."""
