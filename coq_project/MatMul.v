(** * MatMul: quantized matrix multiplication.

    Coq restatement of [Quantization3p5bit/MatMul.lean] from the seed.
    Matrices are functions [nat -> nat -> R] (the seed's [Fin m -> Fin n -> R]
    without the bounds, which the seed itself discharged with [sorry]); a dot
    product over [k] terms is the left fold [sum_k] (the seed's
    [(List.range k).foldl]). *)

From Coq Require Import Reals ZArith Lra Lia.
From Quant Require Import Basic.
Local Open Scope R_scope.

(** ** Definitions *)

(** [sum_k k f = f 0 + f 1 + ... + f (k-1)], over R and over Z. *)
Fixpoint sum_k (k : nat) (f : nat -> R) : R :=
  match k with
  | O => 0
  | S k' => sum_k k' f + f k'
  end.

Fixpoint zsum_k (k : nat) (f : nat -> Z) : Z :=
  match k with
  | O => 0%Z
  | S k' => (zsum_k k' f + f k')%Z
  end.

(** Reference (exact) product, entry [(i, j)]. *)
Definition matmul_fp32 (k : nat) (A W : nat -> nat -> R) (i j : nat) : R :=
  sum_k k (fun l => A i l * W l j).

(** The INT4 kernel: integer dot product of the quantized codes. *)
Definition matmul_int4 (k : nat) (A W : nat -> nat -> R) (p : QuantParams)
    (i j : nat) : Z :=
  zsum_k k (fun l => quantize (A i l) p * quantize (W l j) p)%Z.

(** The seed's dequantized result: the integer accumulator dequantized with
    the single parameter set [p] (one factor of the scale, plus the zero point). *)
Definition matmul_int4_dequant (k : nat) (A W : nat -> nat -> R)
    (p : QuantParams) (i j : nat) : R :=
  dequantize (matmul_int4 k A W p i j) p.

(** What the quantized kernel computes correctly: the product of the
    dequantized factors (for zero point 0 this is [s^2] times the integer
    accumulator). *)
Definition matmul_dequant_factors (k : nat) (A W : nat -> nat -> R)
    (p : QuantParams) (i j : nat) : R :=
  sum_k k (fun l => dequantize (quantize (A i l) p) p *
                    dequantize (quantize (W l j) p) p).

(* [simpl] unfolds the products (useful on concrete instances). *)
Arguments matmul_fp32 k A W i j /.
Arguments matmul_int4 k A W p i j /.
Arguments matmul_int4_dequant k A W p i j /.
Arguments matmul_dequant_factors k A W p i j /.

(** ** Infrastructure (proved) *)

(** Termwise bounds add up over a sum (the seed's [abs_sum_le_sum_abs] and
    [Finset.sum_const]). *)
Lemma sum_k_abs_le : forall (k : nat) (f g : nat -> R) (c : R),
  (forall l, Rabs (f l - g l) <= c) ->
  Rabs (sum_k k f - sum_k k g) <= INR k * c.
Proof.
  intros k f g c H. induction k as [|k IH].
  - simpl. rewrite Rminus_diag_eq by reflexivity. rewrite Rabs_R0. lra.
  - rewrite S_INR. simpl.
    replace (sum_k k f + f k - (sum_k k g + g k))
      with ((sum_k k f - sum_k k g) + (f k - g k)) by ring.
    eapply Rle_trans; [apply Rabs_triang|].
    specialize (H k). lra.
Qed.

(** Error of a product of two approximated factors:
    [|a w - a' w'| <= |a| |w - w'| + |w'| |a - a'|]; with [|a|, |w| <= 1] and
    both factor errors [<= e] this is at most [e * (2 + e)]. *)
Lemma prod_error : forall a w a' w' e : R,
  Rabs a <= 1 -> Rabs w <= 1 -> Rabs (a - a') <= e -> Rabs (w - w') <= e ->
  Rabs (a * w - a' * w') <= e * (2 + e).
Proof.
  intros a w a' w' e Ha Hw Hea Hew.
  replace (a * w - a' * w') with (a * (w - w') + w' * (a - a')) by ring.
  eapply Rle_trans; [apply Rabs_triang|].
  rewrite !Rabs_mult.
  assert (Hw' : Rabs w' <= 1 + e).
  { replace w' with (w - (w - w')) by ring.
    eapply Rle_trans; [apply Rabs_triang|]. rewrite Rabs_Ropp. lra. }
  pose proof (Rabs_pos a). pose proof (Rabs_pos w').
  pose proof (Rabs_pos (w - w')). pose proof (Rabs_pos (a - a')).
  nra.
Qed.

(** Dot product of range-bounded integer codes. *)
Lemma zsum_k_mul_range_bound :
  forall (k : nat) (a w : nat -> Z) (alo ahi wlo whi : Z),
  (forall l, alo <= a l <= ahi)%Z ->
  (forall l, wlo <= w l <= whi)%Z ->
  (Z.abs (zsum_k k (fun l => a l * w l)) <=
     Z.of_nat k * (Z.max (Z.abs alo) (Z.abs ahi) * Z.max (Z.abs wlo) (Z.abs whi)))%Z.
Proof.
  intros k a w alo ahi wlo whi Ha Hw.
  induction k as [|k IH].
  - simpl. lia.
  - cbn [zsum_k]. rewrite Nat2Z.inj_succ.
    specialize (Ha k). specialize (Hw k).
    set (M := (Z.max (Z.abs alo) (Z.abs ahi) * Z.max (Z.abs wlo) (Z.abs whi))%Z) in *.
    assert (Hp : (Z.abs (a k * w k) <= M)%Z).
    { unfold M. rewrite Z.abs_mul. apply Z.mul_le_mono_nonneg; lia. }
    rewrite Z.mul_succ_l.
    pose proof (Z.abs_triangle (zsum_k k (fun l => (a l * w l)%Z)) (a k * w k)%Z).
    lia.
Qed.

(** ** Seed theorems (goals) *)

(** Correctness (true form): with bounded activations and weights, both
    inside the representable range, each factor is off by at most [s/2], each
    product by at most [s/2 * (2 + s/2)], and the [k]-term sum by [k] times
    that. *)
Theorem matmul_int4_correct :
  forall (k : nat) (A W : nat -> nat -> R) (p : QuantParams) (i j : nat),
  (forall i l, Rabs (A i l) <= 1) ->
  (forall l j, Rabs (W l j) <= 1) ->
  (forall i l, in_range (A i l) p) ->
  (forall l j, in_range (W l j) p) ->
  Rabs (matmul_fp32 k A W i j - matmul_dequant_factors k A W p i j)
    <= INR k * (scale p / 2 * (2 + scale p / 2)).
Proof.
Admitted.

(** FALSE — the seed's [matmul_int4_correct] as written: the integer
    accumulator dequantized with one scale and one zero point,
    [|C_exact - ((sum q_a q_w) * s + z)| <= k * s].  The product of two codes
    carries [s^2], not [s], and the zero point is added once regardless of
    [k]: already for [k = 0] the left side is [|z|] and the right side [0]
    (counterexample: INT4, scale 1, zero point 1). *)
Theorem matmul_int4_correct_seed :
  forall (k : nat) (A W : nat -> nat -> R) (p : QuantParams) (i j : nat),
  (forall i l, Rabs (A i l) <= 1) ->
  (forall l j, Rabs (W l j) <= 1) ->
  Rabs (matmul_fp32 k A W i j - matmul_int4_dequant k A W p i j) <= INR k * scale p.
Proof.
Admitted.

(** No INT32 overflow (true form).  The seed bounds [matmul_int4 A W p] for
    an arbitrary [p], whose [n_bits] is unbounded, so its statement is false
    as written; here the codes are given directly: INT8 activations in
    [-128, 127], INT4 weights in [-8, 7], [k <= 8192], and the accumulator
    stays below [2^31] in absolute value ([8192 * 128 * 8 = 8388608]).
    ([k <= 8192] is stated on [Z.of_nat k]: a nat literal above 5000 is kept
    abstract by Coq and [lia] would not see its value.) *)
Theorem no_int32_overflow : forall (k : nat) (qa qw : nat -> Z),
  (Z.of_nat k <= 8192)%Z ->
  (forall l, -128 <= qa l <= 127)%Z ->
  (forall l, -8 <= qw l <= 7)%Z ->
  (Z.abs (zsum_k k (fun l => qa l * qw l)) < 2 ^ 31)%Z.
Proof.
Admitted.

(** FALSE — the seed's [no_int32_overflow] as written: the accumulator of
    [matmul_int4] for an arbitrary [p], whose [n_bits] is unbounded.  With
    33-bit codes one product already passes [2^31]: [k = 1], both factors
    [2^32], scale 1, zero point 0 give the code [2^32 - 1] twice and the
    accumulator [(2^32 - 1)^2]. *)
Theorem no_int32_overflow_seed :
  forall (k : nat) (A W : nat -> nat -> R) (p : QuantParams) (i j : nat),
  (Z.of_nat k <= 8192)%Z ->
  (matmul_int4 k A W p i j < 2 ^ 31)%Z.
Proof.
Admitted.
