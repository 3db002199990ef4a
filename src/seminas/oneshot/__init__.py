"""One-shot NAS on NAS-Bench-201."""
