"""Reports computed from the stored events (R-RPT-1)."""
