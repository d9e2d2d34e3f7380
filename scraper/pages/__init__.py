"""Pure parsers: one module per page kind, bytes in, typed records out, no I/O."""
