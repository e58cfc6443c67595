"""Customers choose: a signed link in every notice to a page where a tenant picks one of its
upgrade windows, opts out until a date, or confirms; the choice is recorded in the ledger
and honoured by ``plan``, ``notify``, ``start`` and ``status`` as ``tenants.yaml`` is."""
