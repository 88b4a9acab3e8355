(** * Basic: quantization parameters, rounding, quantize / dequantize.

    Coq restatement of [Quantization3p5bit/Basic.lean] from the seed document
    "Lean 4 Integration for Formal Verification" (3.5-bit LLM weight quantization).

    Rounding is round-to-nearest with ties up, [Rround x = floor (x + 1/2)]
    (Mathlib's [round]), built on the standard library's [Int_part] (= floor).
    The lemmas closed with [Qed] are infrastructure (characterisations of
    rounding, clamping and absolute values); the seed's theorems are the
    [Admitted] goals. *)

From Coq Require Import Reals ZArith Lra Lia.
Local Open Scope R_scope.

(** ** Definitions *)

(** Quantization parameters. *)
Record QuantParams := mkQuantParams {
  scale : R;
  zero_point : R;
  n_bits : nat;
  scale_pos : 0 < scale
}.

(** Round to nearest, ties up: [floor (x + 1/2)]. *)
Definition Rround (x : R) : Z := Int_part (x + / 2).

(** Signed [n_bits] code range [-2^(n-1), 2^(n-1) - 1]
    (nat subtraction [n_bits - 1] as in the seed). *)
Definition qmin (p : QuantParams) : Z := (- 2 ^ Z.of_nat (n_bits p - 1))%Z.
Definition qmax (p : QuantParams) : Z := (2 ^ Z.of_nat (n_bits p - 1) - 1)%Z.
(* [simpl] computes the range of concrete parameters, e.g. [qmax] of INT4 is 7. *)
Arguments qmin p /.
Arguments qmax p /.

(** Quantization (R -> Z): round [(x - z) / s], then clamp to [qmin, qmax]. *)
Definition quantize (x : R) (p : QuantParams) : Z :=
  Z.max (qmin p) (Z.min (Rround ((x - zero_point p) / scale p)) (qmax p)).

(** Dequantization (Z -> R). *)
Definition dequantize (q : Z) (p : QuantParams) : R :=
  IZR q * scale p + zero_point p.
Arguments dequantize q p /.

(** INT4 parameters (the baseline). *)
Definition int4_params (s z : R) (h : 0 < s) : QuantParams :=
  mkQuantParams s z 4 h.

(** The input lies inside the representable range: the unclamped rounded
    code is in [qmin, qmax] (so clamping does nothing). *)
Definition in_range (x : R) (p : QuantParams) : Prop :=
  (qmin p <= Rround ((x - zero_point p) / scale p) <= qmax p)%Z.

(** 3.5-bit parameters: alternating 4-bit (even index) and 3-bit (odd index)
    codes sharing one zero point ([zero_point_3p5] is the seed's [zero_point],
    renamed because Coq record projections share one namespace). *)
Record Quant3p5Params := mkQuant3p5Params {
  scale_4bit : R;
  scale_3bit : R;
  zero_point_3p5 : R;
  scale_4bit_pos : 0 < scale_4bit;
  scale_3bit_pos : 0 < scale_3bit
}.

Definition quantize_3p5bit (x : R) (idx : nat) (p : Quant3p5Params) : Z :=
  if Nat.eqb (idx mod 2) 0
  then (* even index: 4 bits, [-8, 7] *)
    Z.max (-8) (Z.min (Rround ((x - zero_point_3p5 p) / scale_4bit p)) 7)
  else (* odd index: 3 bits, [-4, 3] *)
    Z.max (-4) (Z.min (Rround ((x - zero_point_3p5 p) / scale_3bit p)) 3).

Definition dequantize_3p5bit (q : Z) (idx : nat) (p : Quant3p5Params) : R :=
  if Nat.eqb (idx mod 2) 0
  then IZR q * scale_4bit p + zero_point_3p5 p
  else IZR q * scale_3bit p + zero_point_3p5 p.

(** In range for the 3.5-bit scheme: the unclamped code of the slot's width
    fits its range. *)
Definition in_range_3p5bit (x : R) (idx : nat) (p : Quant3p5Params) : Prop :=
  if Nat.eqb (idx mod 2) 0
  then (-8 <= Rround ((x - zero_point_3p5 p) / scale_4bit p) <= 7)%Z
  else (-4 <= Rround ((x - zero_point_3p5 p) / scale_3bit p) <= 3)%Z.

(** ** Infrastructure (proved) *)

(** Characterisation of rounding. *)
Lemma Rround_spec : forall x : R, x - / 2 < IZR (Rround x) <= x + / 2.
Proof.
  intros x. unfold Rround.
  destruct (base_Int_part (x + / 2)) as [H1 H2].
  split; lra.
Qed.

(** Elimination form of [Rround_spec]: to bound [x - round x] it suffices to
    bound [x - r] for every [r] within 1/2 of [x]. *)
Lemma Rround_near : forall x a b : R,
  (forall r : R, x - / 2 < r <= x + / 2 -> a <= x - r <= b) ->
  a <= x - IZR (Rround x) <= b.
Proof.
  intros x a b H. apply H. apply Rround_spec.
Qed.

(** The rounding step of quantization, scaled back:
    [|x - (round((x - z)/s) * s + z)| <= s/2] for [s > 0]
    (the seed's [key] identity combined with [round_error]). *)
Lemma Rround_scaled_error : forall x z s : R,
  0 < s -> Rabs (x - (IZR (Rround ((x - z) / s)) * s + z)) <= s / 2.
Proof.
  intros x z s Hs.
  destruct (Rround_spec ((x - z) / s)) as [H1 H2].
  set (r := IZR (Rround ((x - z) / s))) in *.
  assert (Hu : (x - z) / s * s = x - z) by (field; lra).
  apply Rabs_le. split; nra.
Qed.

(** Absolute value bounds as a two-sided inequality (the standard
    library of Coq 8.16 has only the [<-] direction, as [Rabs_le]). *)
Lemma Rabs_le_between : forall x y : R, Rabs x <= y <-> - y <= x <= y.
Proof.
  intros x y. split.
  - intros H. pose proof (Rle_abs x). pose proof (Rle_abs (- x)).
    rewrite Rabs_Ropp in *. lra.
  - apply Rabs_le.
Qed.

(** Clamping does nothing inside the range. *)
Lemma clamp_id : forall a b q : Z, (a <= q <= b)%Z -> Z.max a (Z.min q b) = q.
Proof.
  intros a b q H. lia.
Qed.

Lemma qmin_le_qmax : forall p : QuantParams, (qmin p <= qmax p)%Z.
Proof.
  intros p. unfold qmin, qmax.
  assert (H : (0 < 2 ^ Z.of_nat (n_bits p - 1))%Z).
  { apply Z.pow_pos_nonneg; lia. }
  lia.
Qed.

(** Quantized codes lie in the code range. *)
Lemma quantize_range : forall (x : R) (p : QuantParams),
  (qmin p <= quantize x p <= qmax p)%Z.
Proof.
  intros x p. unfold quantize. pose proof (qmin_le_qmax p). lia.
Qed.

(** Above the range, quantization saturates at [qmax]. *)
Lemma quantize_above : forall (x : R) (p : QuantParams),
  IZR (qmax p) * scale p + zero_point p <= x -> quantize x p = qmax p.
Proof.
  intros x p Hx. unfold quantize.
  pose proof (scale_pos p) as Hs. pose proof (qmin_le_qmax p).
  destruct (Rround_spec ((x - zero_point p) / scale p)) as [H1 H2].
  assert (Hq : IZR (qmax p) <= (x - zero_point p) / scale p).
  { apply Rmult_le_reg_r with (scale p); [lra|].
    unfold Rdiv. rewrite Rmult_assoc, Rinv_l by lra. lra. }
  assert (Hr : (qmax p <= Rround ((x - zero_point p) / scale p))%Z).
  { apply Zlt_succ_le. apply lt_IZR. unfold Z.succ. rewrite plus_IZR. lra. }
  lia.
Qed.

(** ** Seed theorems (goals) *)

(** Rounding error is at most 1/2. *)
Lemma round_error : forall x : R, Rabs (x - IZR (Rround x)) <= 1 / 2.
Proof.
Admitted.

(** Clamping preserves boundedness. *)
Lemma clamp_in_range : forall x a b : Z,
  (a <= b)%Z -> (a <= Z.max a (Z.min x b) <= b)%Z.
Proof.
Admitted.

(** Scale multiplication distributes over addition. *)
Lemma scale_distrib : forall (q1 q2 : Z) (s : R),
  IZR (q1 + q2) * s = IZR q1 * s + IZR q2 * s.
Proof.
Admitted.
