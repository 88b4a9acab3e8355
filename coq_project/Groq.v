(** * Groq: hardware constraints and tile sizing.

    Coq restatement of [Quantization3p5bit/Groq.lean] from the seed.
    Sizes are in bytes over [nat] (INT8 activations: 1 byte, INT4 weights
    packed two per byte: [/ 2], INT32 accumulators: 4 bytes); the SRAM per
    tile is 220 KB = 225280 bytes.  The seed's two SRAM theorems are false
    (its own [calc] ends in [655360 <= 225280] and [458752 <= 225280]); a tile
    that does fit is stated as a separate true theorem. *)

From Coq Require Import NArith ZArith Lia.
From Coq Require Import ZifyClasses ZifyInst.

(** Let [lia]/[nia] reason about [nat] division by a constant: translate
    [Nat.div] to [Z.div] and expand it into quotient/remainder equations. *)
#[global] Instance Op_nat_div : BinOp Nat.div :=
  { TBOp := Z.div ; TBOpInj := Nat2Z.inj_div }.
Add Zify BinOp Op_nat_div.
Ltac Zify.zify_post_hook ::= Z.div_mod_to_equations.

(** Hardware constraints (the seed's defaults).  Bandwidth and throughput
    are binary naturals [N]: [80 * 1024^3] and [750 * 10^12] are far beyond
    what a unary [nat] can compute with. *)
Record GroqConstraints := mkGroqConstraints {
  systolic_size : nat;      (* 320 x 320 array *)
  sram_per_tile : nat;      (* bytes *)
  memory_bandwidth : N;     (* bytes / s *)
  tops_int8 : N             (* INT8 ops / s *)
}.

Definition groq_default : GroqConstraints := {|
  systolic_size := 320;
  sram_per_tile := 220 * 1024;           (* 220 KB *)
  memory_bandwidth := (80 * 1024 ^ 3)%N; (* 80 GB/s *)
  tops_int8 := 750000000000000%N         (* 750 TOPS = 750 * 10^12 (a literal:
                                            [simpl] is slow on [750 * 10 ^ 12]) *)
|}.

(** FALSE — the seed's claim that a 320 x 320 x 512 tile fits in one tile's
    SRAM: [320*512 + 512*320/2 + 320*320*4 = 163840 + 81920 + 409600 = 655360],
    which exceeds [220 * 1024 = 225280]. *)
Theorem matmul_fits_groq_sram : forall tile_m tile_n tile_k : nat,
  tile_m <= 320 -> tile_n <= 320 -> tile_k <= 512 ->
  tile_m * tile_k * 1 + tile_k * tile_n / 2 + tile_m * tile_n * 4 <= 220 * 1024.
Proof.
Admitted.

(** FALSE — the seed's "corrected" version with 256 x 256 x 512 tiles:
    [256*512 + 512*256/2 + 256*256*4 = 131072 + 65536 + 262144 = 458752],
    still more than [225280] (the seed's [calc] asserts [458752 <= 225280]). *)
Theorem matmul_fits_groq_sram_corrected : forall tile_m tile_n tile_k : nat,
  tile_m <= 256 -> tile_n <= 256 -> tile_k <= 512 ->
  tile_m * tile_k * 1 + tile_k * tile_n / 2 + tile_m * tile_n * 4 <= 220 * 1024.
Proof.
Admitted.

(** A tile that does fit: 128 x 128 x 512 needs
    [65536 + 32768 + 65536 = 163840 <= 225280] bytes. *)
Theorem matmul_fits_groq_sram_tile128 : forall tile_m tile_n tile_k : nat,
  tile_m <= 128 -> tile_n <= 128 -> tile_k <= 512 ->
  tile_m * tile_k * 1 + tile_k * tile_n / 2 + tile_m * tile_n * 4 <= 220 * 1024.
Proof.
Admitted.
