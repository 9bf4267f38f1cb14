"""Rules: pure functions over the bundle, driven by tables, returning findings."""
