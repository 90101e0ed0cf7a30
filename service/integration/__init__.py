"""What integrators and auditors rely on: the event index (tenant feed, hash chain), outbox."""
