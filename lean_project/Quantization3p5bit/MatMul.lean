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

-- TRUE. Error of a product of two quantized factors, entry `(i, j)`.
-- Per term, with `a' = dequant(q a)`, `w' = dequant(q w)`:
--   `a * w - a' * w' = a * (w - w') + (a - a') * w'`,
--   `|a - a'| ≤ sa/2`, `|w - w'| ≤ sw/2` (in range), `|a| ≤ Ba`, `|w'| ≤ |w| + sw/2 ≤ Bw + sw/2`,
-- so each term is at most `sa/2 * (Bw + sw/2) + Ba * (sw/2)`; sum `k` terms.
-- Hints (confirmed): `Matrix.mul_apply`, `Matrix.of_apply`, `Finset.abs_sum_le_sum_abs`,
-- `Finset.sum_le_sum`, `Finset.sum_const`, `Finset.card_fin`, `nsmul_eq_mul`.
theorem matmul_int4_correct {m k n : ℕ}
    (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ) (pa pw : QuantParams)
    (Ba Bw : ℝ)
    (hA : ∀ (i : Fin m) (l : Fin k), |A i l| ≤ Ba)
    (hW : ∀ (l : Fin k) (j : Fin n), |W l j| ≤ Bw)
    (hA_range : ∀ (i : Fin m) (l : Fin k), InRange (A i l) pa)
    (hW_range : ∀ (l : Fin k) (j : Fin n), InRange (W l j) pw)
    (i : Fin m) (j : Fin n) :
    |matmul_fp32 A W i j - matmul_dequant A W pa pw i j| ≤
      (k : ℝ) * (pa.scale / 2 * (Bw + pw.scale / 2) + Ba * (pw.scale / 2)) := by sorry

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

-- TRUE. INT8 activations (codes in `[-128, 127]`) times INT4 weights (codes in `[-8, 7]`):
-- each product has `|qa * qw| ≤ 128 * 8 = 1024`, and `k ≤ 8192` terms give
-- `|acc| ≤ 8192 * 1024 = 8388608 < 2^31 = 2147483648`.
-- (The seed's `127 * 7` per-term bound is wrong — `(-128) * (-8) = 1024` — but the conclusion
-- holds with room to spare.)
theorem no_int32_overflow {m k n : ℕ}
    (A : Matrix (Fin m) (Fin k) ℝ) (W : Matrix (Fin k) (Fin n) ℝ) (pa pw : QuantParams)
    (ha : pa.n_bits = 8) (hw : pw.n_bits = 4) (hk : k ≤ 8192)
    (i : Fin m) (j : Fin n) :
    |matmul_int4 A W pa pw i j| < 2 ^ 31 := by sorry

end Quantization3p5bit
