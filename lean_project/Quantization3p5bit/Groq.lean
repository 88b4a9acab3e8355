import Quantization3p5bit.Basic

/-!
# Groq hardware constraints

Tile footprint in bytes: INT8 activations `tile_m * tile_k`, packed INT4 weights
`tile_k * tile_n / 2` (natural-number division), INT32 accumulators `tile_m * tile_n * 4`,
against `220 * 1024 = 225280` bytes of SRAM per tile.
-/

namespace Quantization3p5bit

/-- Groq hardware model (defaults are the seed's figures). -/
structure GroqConstraints where
  /-- 320 × 320 systolic array. -/
  systolic_size : ℕ := 320
  /-- 220 KiB of SRAM per tile. -/
  sram_per_tile : ℕ := 220 * 1024
  /-- 80 GiB/s memory bandwidth, in bytes per second. -/
  memory_bandwidth : ℕ := 80 * 1024 ^ 3
  /-- 750 TOPS (INT8), in operations per second. -/
  tops_int8 : ℕ := 750 * 10 ^ 12

-- SEED CLAIM — FALSE. Tiles up to 320 × 320 × 512 do NOT fit: at `tile_m = tile_n = 320`,
-- `tile_k = 512` the footprint is `163840 + 81920 + 409600 = 655360 > 225280`.
-- (The seed's own calc ends in `655360 ≤ 220 * 1024`, marked ✗.)
theorem matmul_fits_groq_sram (tile_m tile_n tile_k : ℕ)
    (h_tile_m : tile_m ≤ 320) (h_tile_n : tile_n ≤ 320) (h_tile_k : tile_k ≤ 512) :
    tile_m * tile_k * 1 + tile_k * tile_n / 2 + tile_m * tile_n * 4 ≤ 220 * 1024 := by sorry

-- SEED CLAIM ("corrected") — FALSE. Tiles up to 256 × 256 × 512 still do NOT fit: at
-- `tile_m = tile_n = 256`, `tile_k = 512` the footprint is
-- `131072 + 65536 + 262144 = 458752 > 225280`. (The seed's calc asserts `458752 ≤ 225280`.)
theorem matmul_fits_groq_sram_corrected (tile_m tile_n tile_k : ℕ)
    (h_tile_m : tile_m ≤ 256) (h_tile_n : tile_n ≤ 256) (h_tile_k : tile_k ≤ 512) :
    tile_m * tile_k * 1 + tile_k * tile_n / 2 + tile_m * tile_n * 4 ≤ 220 * 1024 := by sorry

-- TRUE. Tiles up to 128 × 128 × 512 fit: the footprint is monotone in each dimension and at the
-- corner it is `65536 + 32768 + 65536 = 163840 ≤ 225280`.
theorem matmul_fits_groq_sram_tile128 (tile_m tile_n tile_k : ℕ)
    (h_tile_m : tile_m ≤ 128) (h_tile_n : tile_n ≤ 128) (h_tile_k : tile_k ≤ 512) :
    tile_m * tile_k * 1 + tile_k * tile_n / 2 + tile_m * tile_n * 4 ≤ 220 * 1024 := by sorry

end Quantization3p5bit
