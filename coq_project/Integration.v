(** * Integration: end-to-end statements for LLaMA 70B on Groq.

    Coq restatement of [Quantization3p5bit/Integration.lean] from the seed. *)

From Coq Require Import Reals NArith ZArith Lra Lia.
From Quant Require Import Basic ErrorBounds MatMul IntegerBounds Groq.
Local Open Scope R_scope.

(** LLaMA 70B model dimensions (the seed's defaults are the record
    [llama70b] below).  Binary naturals [N] rather than unary [nat]: the
    latency computation multiplies them up to [80 * 8192^2 * 2 ~ 1.07e10]. *)
Record LLaMA70B := mkLLaMA70B {
  num_layers : N;
  hidden_dim : N;
  intermediate_dim : N;
  num_heads : N;
  vocab_size : N
}.

Definition llama70b : LLaMA70B := {|
  num_layers := 80;
  hidden_dim := 8192;
  intermediate_dim := 28672;
  num_heads := 64;
  vocab_size := 32000
|}.

(** ** End-to-end error

    The seed's [forward_pass_fp32] / [forward_pass_int4] are never defined;
    here a forward pass is an abstract stack of [L] layer maps on a space [X]
    with a distance [dist] (e.g. a norm of the difference of two activation
    vectors).  [forward L layer x] applies layers [0 .. L-1]. *)
Fixpoint forward {X : Type} (L : nat) (layer : nat -> X -> X) (x : X) : X :=
  match L with
  | O => x
  | S L' => layer L' (forward L' layer x)
  end.

(** One step of the triangle inequality, with the bounds as parameters. *)
Lemma dist_step : forall (X : Type) (dist : X -> X -> R) (a b c : X) (E e B : R),
  (forall a b c, dist a c <= dist a b + dist b c) ->
  dist a b <= E -> dist b c <= e -> E + e <= B -> dist a c <= B.
Proof.
  intros X dist a b c E e B Htri H1 H2 H3.
  specialize (Htri a b c). lra.
Qed.

(** End-to-end error (true form): if the exact layers do not expand
    distances and each quantized layer is within [e] of the exact one, the
    errors of [L] layers add up to at most [L * e].  (With the seed's
    per-layer bound [e = hidden_dim * scale] and [L = num_layers] this is its
    [num_layers * hidden_dim * scale]; the seed has no non-expansiveness
    assumption, without which errors can grow geometrically.) *)
Theorem llama70b_error_bounded :
  forall (X : Type) (dist : X -> X -> R) (L : nat)
         (exact quant : nat -> X -> X) (e : R) (input : X),
  (forall a, dist a a = 0) ->
  (forall a b c, dist a c <= dist a b + dist b c) ->
  (forall l a b, dist (exact l a) (exact l b) <= dist a b) ->
  (forall l a, dist (exact l a) (quant l a) <= e) ->
  dist (forward L exact input) (forward L quant input) <= INR L * e.
Proof.
Admitted.

(** ** Latency

    Compute time: [num_layers * hidden_dim^2 * 2] MACs at 750 TOPS; memory
    time: the 19 GiB 3.5-bit model streamed at 80 GiB/s (the seed's
    [(n : R)] casts are [IZR (Z.of_N n)]). *)
Definition total_macs (m : LLaMA70B) : N :=
  (num_layers m * hidden_dim m ^ 2 * 2)%N.

Definition compute_time (m : LLaMA70B) (g : GroqConstraints) : R :=
  IZR (Z.of_N (total_macs m)) / IZR (Z.of_N (tops_int8 g)).

Definition memory_time (g : GroqConstraints) : R :=
  19 * 1024 ^ 3 / IZR (Z.of_N (memory_bandwidth g)).

(* [simpl] evaluates the timings of concrete models. *)
Arguments total_macs m /.
Arguments compute_time m g /.
Arguments memory_time g /.

(** FALSE — the seed's claim "Groq can run this in 0.24 ms":
    [max compute_time memory_time <= 0.24 * 10^(-3)] seconds.  The memory
    time is [19 * 1024^3 / (80 * 1024^3) = 0.2375] seconds (0.2375 s, not
    0.2375 ms: the seed's own comment slips a factor 1000); the compute time
    is [80 * 8192^2 * 2 / 750e12 ~ 1.4e-5] s (0.014 ms; the seed says 0.14 ms).  Stated for the seed's default
    model and hardware (for arbitrary records it would be trivially false). *)
Theorem llama70b_groq_latency :
  Rmax (compute_time llama70b groq_default) (memory_time groq_default) <= 0.24e-3.
Proof.
Admitted.

(** The unit-correct form: a token takes at most 0.24 seconds. *)
Theorem llama70b_groq_latency_seconds :
  Rmax (compute_time llama70b groq_default) (memory_time groq_default) <= 0.24.
Proof.
Admitted.
