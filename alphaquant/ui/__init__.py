"""Rendering with rich and logging set-up; only the CLI imports this package."""
