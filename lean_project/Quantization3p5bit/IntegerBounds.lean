import Quantization3p5bit.MatMul

/-!
# Integer range checks

The seed's `let … ; unfold_let` statements are written out directly (`unfold_let` is deprecated;
the `let`s only named subterms). `Int.le_max_left`-style names are not used.
-/

namespace Quantization3p5bit

-- TRUE. INT8 activation codes (`transformer_layer.f90:82`): `clamp(round(127 * x), -127, 127)`
-- lies in `[-127, 127]` (the clamp alone guarantees it; `h` is the seed's hypothesis).
-- Hints (confirmed): `le_max_left`, `max_le`, `min_le_left`.
theorem activation_quantization_bounded (x : ℝ) (h : |x| ≤ 1) :
    -127 ≤ max (-127 : ℤ) (min 127 (round (x * 127))) ∧
      max (-127 : ℤ) (min 127 (round (x * 127))) ≤ 127 := by sorry

-- TRUE. INT32 accumulator bound at the LLaMA-70B shape `M = 1`, `N = K = 8192`, with 4-bit codes
-- for both factors (one parameter set `p` with `p.n_bits = 4`, as the seed states it): codes lie in
-- `[-8, 7]`, so `|acc| ≤ 8192 * (8 * 8) = 524288 < 2^31`.
theorem accumulator_bounded_70B (M N K : ℕ) (hM : M = 1) (hN : N = 8192) (hK : K = 8192) :
    ∀ (A : Matrix (Fin M) (Fin K) ℝ) (W : Matrix (Fin K) (Fin N) ℝ) (p : QuantParams),
      (∀ (i : Fin M) (l : Fin K), |A i l| ≤ 1) →
      p.n_bits = 4 →
      ∀ (i : Fin M) (j : Fin N), |matmul_int4 A W p p i j| < 2 ^ 31 := by sorry

end Quantization3p5bit
