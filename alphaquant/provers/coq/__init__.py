"""Coq as a prover: sentences, coqtop's protocol, the coqtop process, the prover, the project
and the acceptance rule, one module each (import the module you need; nothing is re-exported)."""
