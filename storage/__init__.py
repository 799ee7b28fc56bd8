"""See README.md and docs/ for this package's role."""
