(** * IntegerBounds: integer range checks.

    Coq restatement of [Quantization3p5bit/IntegerBounds.lean] from the seed. *)

From Coq Require Import Reals ZArith Lra Lia.
From Quant Require Import Basic MatMul.
Local Open Scope R_scope.

(** All intermediate INT8 activation codes are bounded: the activation is
    scaled by 127 (transformer_layer.f90:82), rounded and clamped to
    [-127, 127]. *)
Theorem activation_quantization_bounded : forall x : R,
  Rabs x <= 1 ->
  (-127 <= Z.max (-127) (Z.min 127 (Rround (x * 127))) <= 127)%Z.
Proof.
Admitted.

(** INT32 accumulator bound for the 70B shapes: batch 1, hidden dimension
    8192 (the reduction length [K]), INT4 codes for both factors
    ([n_bits = 4]), so [|acc| <= 8192 * 8 * 8 < 2^31].  The dimensions are
    stated on [Z.of_nat] (a nat literal above 5000 is kept abstract by Coq). *)
Theorem accumulator_bounded_70B : forall (M N K : nat),
  M = 1%nat -> Z.of_nat N = 8192%Z -> Z.of_nat K = 8192%Z ->
  forall (A W : nat -> nat -> R) (p : QuantParams),
  (forall i j, Rabs (A i j) <= 1) ->
  n_bits p = 4%nat ->
  forall i j : nat, (Z.abs (matmul_int4 K A W p i j) < 2 ^ 31)%Z.
Proof.
Admitted.
