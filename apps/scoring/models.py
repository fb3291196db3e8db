"""Persisted assessments: filled in by the scoring engine (issue 3)."""
