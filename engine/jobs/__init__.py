"""What a command or a ribbon button runs end to end: load, compute, write — the adapters call these."""
