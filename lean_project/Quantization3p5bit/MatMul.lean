import Quantization3p5bit.Basic

/-!
# Quantized matrix multiplication

Matrices are Mathlib's `Matrix (Fin m) (Fin k) ℝ` (the seed's own `Matrix` definition clashed with
Mathlib's). Dot products are `∑ l : Fin k, …` sums instead of `List.range` folds with
placeholder index proofs. Activations and weights get their own `QuantParams` (`pa`, `pw`): the seed's INT8 × INT4
product cannot be expressed with one shared parameter set.

* `matmul_int4 A W pa pw` — the integer (INT32) accumulator `∑ q(A i l) * q(W l j)`.
* `matmul_fp32 A W` — the exact product `A * W` (Mathlib's matrix multiplication).
* `matmul_dequant A W pa pw` — what the quantized pipeline represents:
  `∑ dequant(q(A i l)) * dequant(q(W l j))`.
* `matmul_int4_dequant A W p` — the seed's definition: the integer accumulator dequantized with
  ONE scale and zero point. Only used by the FALSE goal `matmul_int4_correct_seed`.

The goals mean what their namesakes in coq_project/MatMul.v mean: `matmul_int4_correct` and the
seed claims take one parameter set `p` for both factors; `no_int32_overflow` is stated on the
integer codes themselves.
-/

namespace Quantization3p5bit

noncomputable section

/-- Integer accumulator of the quantized product: `∑ l, q(A i l) * q(W l j)`. -/
def matmul_int4 {m k n : ℕ} (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ)
    (pa pw : QuantParams) : Matrix (Fin m) (Fin n) ℤ :=
  Matrix.of fun i j => ∑ l : Fin k, quantize (A i l) pa * quantize (W l j) pw

/-- Reference (exact) product. -/
def matmul_fp32 {m k n : ℕ} (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ) :
    Matrix (Fin m) (Fin n) ℝ :=
  A * W

/-- The product of the two dequantized factors: `∑ l, A' i l * W' l j`. -/
def matmul_dequant {m k n : ℕ} (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ)
    (pa pw : QuantParams) : Matrix (Fin m) (Fin n) ℝ :=
  Matrix.of fun i j =>
    ∑ l : Fin k, dequantize (quantize (A i l) pa) pa * dequantize (quantize (W l j) pw) pw

/-- The seed's dequantized result: the integer accumulator (both factors quantized with `p`)
dequantized with the single scale and zero point of `p`. -/
def matmul_int4_dequant {m k n : ℕ} (A : Matrix (Fin m) (Fin k) ℝ)
    (W : Matrix (Fin k) (Fin n) ℝ) (p : QuantParams) : Matrix (Fin m) (Fin n) ℝ :=
  Matrix.of fun i j => dequantize (matmul_int4 A W p p i j) p

end

-- TRUE. Error of a product of two quantized factors, entry `(i, j)`, with both factors quantized
-- with the same parameters `p`, bounded by `1` and in range.
-- Per term, with `a' = dequant(q a)`, `w' = dequant(q w)`:
--   `a * w - a' * w' = a * (w - w') + (a - a') * w'`,
--   `|a - a'| ≤ s/2`, `|w - w'| ≤ s/2` (in range), `|a| ≤ 1`, `|w'| ≤ |w| + s/2 ≤ 1 + s/2`,
-- so each term is at most `s/2 + (1 + s/2) * (s/2) = s/2 * (2 + s/2)`; sum `k` terms.
-- Hints (confirmed): `Matrix.mul_apply`, `Matrix.of_apply`, `Finset.abs_sum_le_sum_abs`,
-- `Finset.sum_le_sum`, `Finset.sum_const`, `Finset.card_fin`, `nsmul_eq_mul`.
theorem matmul_int4_correct {m k n : ℕ}
    (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ) (p : QuantParams)
    (hA : ∀ (i : Fin m) (l : Fin k), |A i l| ≤ 1)
    (hW : ∀ (l : Fin k) (j : Fin n), |W l j| ≤ 1)
    (hA_range : ∀ (i : Fin m) (l : Fin k), InRange (A i l) p)
    (hW_range : ∀ (l : Fin k) (j : Fin n), InRange (W l j) p)
    (i : Fin m) (j : Fin n) :
    |matmul_fp32 A W i j - matmul_dequant A W p p i j| ≤
      (k : ℝ) * (p.scale / 2 * (2 + p.scale / 2)) := by sorry

-- SEED CLAIM — FALSE. The seed dequantizes the integer dot product `∑ qa * qw` with ONE scale
-- (`acc * s + z`). But `qa ≈ a / s` and `qw ≈ w / s`, so `acc ≈ (∑ a * w) / s²` and the correct
-- rescale is `s * s` (in general `sa * sw`, plus zero-point cross terms); `acc * s` is off by a
-- factor `1 / s`. Counterexample: `m = k = n = 1`, `A = W = 1`, `scale = 1/2`, `zero_point = 0`,
-- `n_bits = 4`: `q(1) = round 2 = 2`, `acc = 4`, dequantized `4 * (1/2) = 2`, exact `1`,
-- error `1 > k * scale = 1/2`.
theorem matmul_int4_correct_seed {m k n : ℕ}
    (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ) (p : QuantParams)
    (hA : ∀ (i : Fin m) (l : Fin k), |A i l| ≤ 1)
    (hW : ∀ (l : Fin k) (j : Fin n), |W l j| ≤ 1)
    (i : Fin m) (j : Fin n) :
    |matmul_fp32 A W i j - matmul_int4_dequant A W p i j| ≤ (k : ℝ) * p.scale := by sorry

-- TRUE. No INT32 overflow for INT8 activation codes (in `[-128, 127]`) times INT4 weight codes
-- (in `[-8, 7]`), the codes given directly: each product has `|qa * qw| ≤ 128 * 8 = 1024`, and
-- `k ≤ 8192` terms give `|acc| ≤ 8192 * 1024 = 8388608 < 2^31 = 2147483648`.
theorem no_int32_overflow (k : ℕ) (qa qw : ℕ → ℤ) (hk : k ≤ 8192)
    (ha : ∀ l, -128 ≤ qa l ∧ qa l ≤ 127) (hw : ∀ l, -8 ≤ qw l ∧ qw l ≤ 7) :
    |∑ l ∈ Finset.range k, qa l * qw l| < 2 ^ 31 := by sorry

-- SEED CLAIM — FALSE. The seed bounds the accumulator of `matmul_int4` for an arbitrary `p`, whose
-- `n_bits` is unbounded (its `127 * 7` per-term bound only holds for INT8 × INT4 codes, and even
-- there `(-128) * (-8) = 1024 > 127 * 7`). With 33-bit codes one product already passes `2^31`:
-- `k = 1`, both factors `2^32`, scale `1`, zero point `0` give the code `2^32 - 1` twice and the
-- accumulator `(2^32 - 1)^2`.
theorem no_int32_overflow_seed {m k n : ℕ}
    (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ) (p : QuantParams)
    (hk : k ≤ 8192) (i : Fin m) (j : Fin n) :
    matmul_int4 A W p p i j < 2 ^ 31 := by sorry

end Quantization3p5bit
