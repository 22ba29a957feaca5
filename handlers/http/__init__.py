"""Plain HTTP endpoints: health, readiness and metrics."""
