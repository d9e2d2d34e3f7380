"""Test-only helpers: the sample site's fault injection and hit recording, and helpers once kept in production modules."""
