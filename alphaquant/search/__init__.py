"""Prover-agnostic Monte Carlo tree search over tactics."""
