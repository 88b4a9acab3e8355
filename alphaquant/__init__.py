"""alphaquant: AlphaProof-style tree search that closes the open goals of Lean and Coq files."""

__version__ = "0.1.0"
