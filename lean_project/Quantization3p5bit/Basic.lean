import Mathlib

/-!
# 3.5-bit quantization: basic definitions

Symmetric/affine integer quantization `x ↦ clamp(round((x - z) / s))` and its inverse
`q ↦ q * s + z`, plus the alternating 4-bit / 3-bit ("3.5-bit") scheme.

Differences from the seed text:
* `⌊x⌉` is Mathlib's `round : ℝ → ℤ` (nearest integer, ties up).
* `n_bits - 1` is natural-number subtraction, so `QuantParams` carries `n_bits_pos : 1 ≤ n_bits`;
  the code range is `[qmin p, qmax p] = [-2^(n_bits-1), 2^(n_bits-1) - 1]` in `ℤ`.
* `InRange x p` says the *unclamped* rounded code of `x` already lies in `[qmin p, qmax p]`;
  the error bound `s / 2` only holds under this hypothesis (clamping is unbounded error).

Every goal's proof is a placeholder (`by` + the hole keyword); every definition is complete.
All declarations live in `namespace Quantization3p5bit`.
-/

namespace Quantization3p5bit

noncomputable section

/-- Quantization parameters: scale, zero point and bit width. -/
structure QuantParams where
  scale : ℝ
  zero_point : ℝ
  n_bits : ℕ
  scale_pos : 0 < scale
  n_bits_pos : 1 ≤ n_bits

/-- Smallest representable code `-2^(n_bits-1)`. -/
def qmin (p : QuantParams) : ℤ := -((2 : ℤ) ^ (p.n_bits - 1))

/-- Largest representable code `2^(n_bits-1) - 1`. -/
def qmax (p : QuantParams) : ℤ := (2 : ℤ) ^ (p.n_bits - 1) - 1

/-- Quantization `ℝ → ℤ`: round, then clamp to `[qmin p, qmax p]`. -/
def quantize (x : ℝ) (p : QuantParams) : ℤ :=
  max (qmin p) (min (round ((x - p.zero_point) / p.scale)) (qmax p))

/-- Dequantization `ℤ → ℝ`. -/
def dequantize (q : ℤ) (p : QuantParams) : ℝ :=
  (q : ℝ) * p.scale + p.zero_point

/-- The unclamped rounded code of `x` is representable, i.e. clamping does nothing. -/
def InRange (x : ℝ) (p : QuantParams) : Prop :=
  qmin p ≤ round ((x - p.zero_point) / p.scale) ∧ round ((x - p.zero_point) / p.scale) ≤ qmax p

/-- INT4 parameters (the baseline). -/
def int4_params (scale zero_point : ℝ) (h : 0 < scale) : QuantParams where
  scale := scale
  zero_point := zero_point
  n_bits := 4
  scale_pos := h
  n_bits_pos := by norm_num

/-- 3.5-bit parameters: even indices use 4 bits, odd indices use 3 bits. -/
structure Quant3p5Params where
  scale_4bit : ℝ
  scale_3bit : ℝ
  zero_point : ℝ
  scale_4bit_pos : 0 < scale_4bit
  scale_3bit_pos : 0 < scale_3bit

/-- 3.5-bit quantization: 4-bit codes `[-8, 7]` at even `idx`, 3-bit codes `[-4, 3]` at odd. -/
def quantize_3p5bit (x : ℝ) (idx : ℕ) (p : Quant3p5Params) : ℤ :=
  if idx % 2 = 0 then
    max (-8) (min (round ((x - p.zero_point) / p.scale_4bit)) 7)
  else
    max (-4) (min (round ((x - p.zero_point) / p.scale_3bit)) 3)

/-- 3.5-bit dequantization. -/
def dequantize_3p5bit (q : ℤ) (idx : ℕ) (p : Quant3p5Params) : ℝ :=
  if idx % 2 = 0 then
    (q : ℝ) * p.scale_4bit + p.zero_point
  else
    (q : ℝ) * p.scale_3bit + p.zero_point

end

/-! ## Helper lemmas -/

-- TRUE. Rounding error is at most 1/2.
-- Hint (confirmed Mathlib name): `abs_sub_round` is exactly this statement.
theorem round_error (x : ℝ) : |x - round x| ≤ 1 / 2 := by sorry

-- TRUE. Clamping lands in the range.
-- Hints (confirmed): `le_max_left`, `max_le`, `min_le_right`.
theorem clamp_in_range (x a b : ℤ) (hab : a ≤ b) :
    a ≤ max a (min x b) ∧ max a (min x b) ≤ b := by sorry

-- TRUE. The cast of an integer sum, times the scale, distributes.
-- (The seed wrote `((q₁ + q₂) : ℝ)`, which already elaborates to `↑q₁ + ↑q₂`; here the sum is
-- taken in `ℤ` and then cast, which is the intended statement.)
theorem scale_distrib (q₁ q₂ : ℤ) (scale : ℝ) :
    ((q₁ + q₂ : ℤ) : ℝ) * scale = (q₁ : ℝ) * scale + (q₂ : ℝ) * scale := by sorry

end Quantization3p5bit
