"""What past runs teach: learned priors (memory) and suggestions from finished proofs."""
