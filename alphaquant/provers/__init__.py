"""Prover backends behind one boundary (see provers/base.py)."""
