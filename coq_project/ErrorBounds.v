(** * ErrorBounds: quantization error theorems.

    Coq restatement of [Quantization3p5bit/ErrorBounds.lean] from the seed.
    The seed states [|x - dequantize (quantize x p) p| <= s/2] for every [x];
    that is false once clamping is active (inputs outside the representable
    range), so the true theorems carry an in-range hypothesis and the seed's
    clamped forms (Theorems 1 and 2) are kept as their own, clearly named,
    false goals. *)

From Coq Require Import Reals ZArith Lra Lia.
From Quant Require Import Basic.
Local Open Scope R_scope.

(** Theorem 1 (true form): for an input inside the representable range
    (the unclamped rounded code lies in [qmin, qmax]) the error is at most
    half a quantization step. *)
Theorem quantization_error_bound : forall (x : R) (p : QuantParams),
  in_range x p ->
  Rabs (x - dequantize (quantize x p) p) <= scale p / 2.
Proof.
Admitted.

(** FALSE — the seed's Theorem 1 as written, with no range hypothesis.
    Clamping breaks it: for INT4 with scale 1 and zero point 0, [x = 100]
    quantizes to the code 7, dequantizes to 7, and [|100 - 7| = 93 > 1/2].
    (The seed's two [sorry] cases are exactly the clamped ones.) *)
Theorem quantization_error_bound_clamped_seed : forall (x : R) (p : QuantParams),
  Rabs (x - dequantize (quantize x p) p) <= scale p / 2.
Proof.
Admitted.

(** Theorem 2 (true form): 3.5-bit error bound, for an input inside the range
    of its slot (4-bit [-8, 7] at even indices, 3-bit [-4, 3] at odd ones).
    The seed states it without that hypothesis, which is false for the same
    reason as Theorem 1 (clamping). *)
Theorem quantization_3p5bit_error_bound :
  forall (x : R) (idx : nat) (p : Quant3p5Params),
  in_range_3p5bit x idx p ->
  Rabs (x - dequantize_3p5bit (quantize_3p5bit x idx p) idx p)
    <= Rmax (scale_4bit p / 2) (scale_3bit p / 2).
Proof.
Admitted.

(** FALSE — the seed's Theorem 2 as written, with no range hypothesis: the
    3.5-bit code saturates like the INT4 one. At an even index with scale 1
    and zero point 0, [x = 100] quantizes to the code 7 and
    [|100 - 7| = 93 > 1/2]. *)
Theorem quantization_3p5bit_error_bound_clamped_seed :
  forall (x : R) (idx : nat) (p : Quant3p5Params),
  Rabs (x - dequantize_3p5bit (quantize_3p5bit x idx p) idx p)
    <= Rmax (scale_4bit p / 2) (scale_3bit p / 2).
Proof.
Admitted.
