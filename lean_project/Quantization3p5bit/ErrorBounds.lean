import Quantization3p5bit.Basic

/-!
# Quantization error bounds

`quantization_error_bound` and `quantization_3p5bit_error_bound` are the TRUE forms (the input's
rounded code is representable). `quantization_error_bound_clamped_seed` and
`quantization_3p5bit_error_bound_clamped_seed` are the seed's statements, which are FALSE because
of clamping; each is kept as a named goal beside its corrected form so that it can be disproved.
-/

namespace Quantization3p5bit

-- TRUE. Error bound when the rounded code is representable (no clamping happens).
-- Proof idea: by `h`, `quantize x p = round ((x - z) / s)` (`max_eq_right`, `min_eq_left`); then
-- `x - (r * s + z) = s * ((x - z) / s - r)` and `abs_sub_round` gives `≤ s * (1 / 2)`.
theorem quantization_error_bound (x : ℝ) (p : QuantParams) (h : InRange x p) :
    |x - dequantize (quantize x p) p| ≤ p.scale / 2 := by sorry

-- SEED CLAIM — FALSE. The seed states the `s / 2` bound for every `x`, with no range hypothesis.
-- Clamping makes the error unbounded: with `scale = 1`, `zero_point = 0`, `n_bits = 4` the codes
-- are `[-8, 7]`, so `x = 100` quantizes to `7`, dequantizes to `7`, and `|100 - 7| = 93 > 1/2`.
-- (The seed's own proof left exactly the two clamped cases unproved.)
theorem quantization_error_bound_clamped_seed (x : ℝ) (p : QuantParams) :
    |x - dequantize (quantize x p) p| ≤ p.scale / 2 := by sorry

-- TRUE. 3.5-bit error bound, in-range form: for the index's bit width (4 bits at even `idx`,
-- 3 bits at odd `idx`) the rounded code must lie in that width's range.
theorem quantization_3p5bit_error_bound (x : ℝ) (idx : ℕ) (p : Quant3p5Params)
    (h4 : idx % 2 = 0 →
      -8 ≤ round ((x - p.zero_point) / p.scale_4bit) ∧
        round ((x - p.zero_point) / p.scale_4bit) ≤ 7)
    (h3 : idx % 2 = 1 →
      -4 ≤ round ((x - p.zero_point) / p.scale_3bit) ∧
        round ((x - p.zero_point) / p.scale_3bit) ≤ 3) :
    |x - dequantize_3p5bit (quantize_3p5bit x idx p) idx p| ≤
      max (p.scale_4bit / 2) (p.scale_3bit / 2) := by sorry

-- SEED CLAIM — FALSE. The seed states the 3.5-bit bound for every `x`, with no range hypothesis.
-- The code saturates as in the INT4 case: at an even `idx` with both scales `1` and zero point
-- `0`, `x = 100` quantizes to `7`, dequantizes to `7`, and `|100 - 7| = 93 > 1/2`.
theorem quantization_3p5bit_error_bound_clamped_seed (x : ℝ) (idx : ℕ) (p : Quant3p5Params) :
    |x - dequantize_3p5bit (quantize_3p5bit x idx p) idx p| ≤
      max (p.scale_4bit / 2) (p.scale_3bit / 2) := by sorry

end Quantization3p5bit
