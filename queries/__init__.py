"""Canned SQL shipped with the package (``queries/*.sql``)."""
