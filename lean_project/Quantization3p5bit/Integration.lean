import Quantization3p5bit.ErrorBounds
import Quantization3p5bit.MatMul
import Quantization3p5bit.IntegerBounds
import Quantization3p5bit.Groq

/-!
# End-to-end statements for LLaMA-70B on Groq

The seed's `forward_pass_fp32` / `forward_pass_int4` were never defined. Here a model is an
abstract layer map: `layer l : X → X` for `l = 0, 1, …`, run in order by `forward_pass`, on any
normed additive group `X` of activations (e.g. `Fin 8192 → ℝ`).

Latency: `10^(-3)` on `ℝ` would need `zpow` (`(10 : ℝ) ^ (-3 : ℤ)`); it is written `/ 1000`.
-/

namespace Quantization3p5bit

/-- LLaMA-70B shape (defaults are the seed's figures). -/
structure LLaMA70B where
  num_layers : ℕ := 80
  hidden_dim : ℕ := 8192
  intermediate_dim : ℕ := 28672
  num_heads : ℕ := 64
  vocab_size : ℕ := 32000

/-- Run the first `L` layers `layer 0, layer 1, …, layer (L - 1)` on `x`. -/
def forward_pass {X : Type*} (layer : ℕ → X → X) : ℕ → X → X
  | 0, x => x
  | L + 1, x => layer L (forward_pass layer L x)

-- TRUE. If every exact layer is non-expansive (1-Lipschitz) and every quantized layer is within
-- `e` of the exact one at every input, then after `num_layers` layers the outputs differ by at
-- most `num_layers * e`. Induction on the number of layers:
-- `‖f (F x) - g (G x)‖ ≤ ‖f (F x) - f (G x)‖ + ‖f (G x) - g (G x)‖ ≤ ‖F x - G x‖ + e`.
-- Hint (confirmed): `norm_sub_le_norm_sub_add_norm_sub`.
-- (Replaces the seed's `‖…‖ ≤ num_layers * hidden_dim * scale` over undefined forward passes.)
theorem llama70b_error_bounded {X : Type*} [NormedAddCommGroup X] (model : LLaMA70B)
    (layer_fp32 layer_quant : ℕ → X → X) (e : ℝ)
    (h_lip : ∀ l : ℕ, l < model.num_layers →
      ∀ x y : X, ‖layer_fp32 l x - layer_fp32 l y‖ ≤ ‖x - y‖)
    (h_err : ∀ l : ℕ, l < model.num_layers →
      ∀ x : X, ‖layer_fp32 l x - layer_quant l x‖ ≤ e)
    (input : X) :
    ‖forward_pass layer_fp32 model.num_layers input -
        forward_pass layer_quant model.num_layers input‖ ≤ (model.num_layers : ℝ) * e := by sorry

-- SEED CLAIM — FALSE. "Groq runs LLaMA-70B in 0.24 ms": `max compute_time memory_time ≤ 0.24 ms`
-- (the seed's `0.24 * 10^(-3)`, written `0.24 / 1000`). The hypotheses pin the seed's figures
-- (they are the structures' defaults). Memory time is `19 GiB / 80 GiB/s = 19/80 = 0.2375` s —
-- seconds, not milliseconds — so the max is `≥ 0.2375 > 0.00024`. (Compute time is
-- `80 * 8192^2 * 2 / 750e12 ≈ 1.43e-5` s.)
theorem llama70b_groq_latency (model : LLaMA70B) (groq : GroqConstraints)
    (h_layers : model.num_layers = 80) (h_hidden : model.hidden_dim = 8192)
    (h_bw : groq.memory_bandwidth = 80 * 1024 ^ 3) (h_tops : groq.tops_int8 = 750 * 10 ^ 12) :
    max (((model.num_layers * model.hidden_dim ^ 2 * 2 : ℕ) : ℝ) / (groq.tops_int8 : ℝ))
        ((19 * 1024 ^ 3 : ℝ) / (groq.memory_bandwidth : ℝ)) ≤ 0.24 / 1000 := by sorry

-- TRUE. Unit-correct form: the per-token time is at most 0.24 SECONDS
-- (memory `0.2375` s, compute `≈ 1.43e-5` s).
theorem llama70b_groq_latency_seconds (model : LLaMA70B) (groq : GroqConstraints)
    (h_layers : model.num_layers = 80) (h_hidden : model.hidden_dim = 8192)
    (h_bw : groq.memory_bandwidth = 80 * 1024 ^ 3) (h_tops : groq.tops_int8 = 750 * 10 ^ 12) :
    max (((model.num_layers * model.hidden_dim ^ 2 * 2 : ℕ) : ℝ) / (groq.tops_int8 : ℝ))
        ((19 * 1024 ^ 3 : ℝ) / (groq.memory_bandwidth : ℝ)) ≤ 0.24 := by sorry

end Quantization3p5bit
