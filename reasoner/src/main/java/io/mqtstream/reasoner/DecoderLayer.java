package io.mqtstream.reasoner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import io.mqtstream.nn.Attention;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Rope;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pre-norm decoder layer: causal self-attention with a KV cache, then the MLP; with per-budget
 * adapters ({@link LmConfig#adapterRank()}) the adapter of each row's budget set beside the MLP,
 * and with per-budget LoRA ({@link LmConfig#loraRank()}) each projection's update for that set.
 */
final class DecoderLayer extends ModelBlock {
  /** The per-budget adapters' down maps' name under the layer's MLP prefix. */
  static final String ADAPTER_DOWN = "budget_adapter_down";

  /**
   * The per-budget adapters' up maps' name there: zero at the start, so an adapter adds nothing.
   */
  static final String ADAPTER_UP = "budget_adapter_up";

  /** A projection's per-budget LoRA A maps' name under the projection's prefix: (sets, in, r). */
  static final String LORA_A = "budget_lora_a";

  /** Its B maps' name there: (sets, r, out), zero at the start, so an update adds nothing. */
  static final String LORA_B = "budget_lora_b";

  private final LmConfig config;
  private final NormLayer attnNorm;
  private final Dense q;
  private final Dense k;
  private final Dense v;
  private final Dense o;
  private final NormLayer mlpNorm;
  private final Dense up;
  private final Dense gate; // SwiGLU only
  private final Dense down;
  private final LowRank adapter; // down (sets, D, r) and up (sets, r, D), or null
  private final Map<Dense, LowRank> lora = new IdentityHashMap<>(); // per projection, or empty

  /** One per-budget low-rank map: x · a[set] (in, r) · b[set] (r, out). */
  private record LowRank(Parameter a, Parameter b) {}

  DecoderLayer(LmConfig config) {
    this.config = config;
    int d = config.dim();
    int kv = config.kvHeads() * config.headDim(); // grouped-query attention: fewer K/V heads
    int sets = config.normBudgets().size();
    attnNorm = NormLayer.of(config.norm(), d, config.normEps(), sets, "attnNormBudgetGain");
    addChildBlock("attnNorm", attnNorm.block());
    q = addChildBlock("q", new Dense(d, d, false));
    k = addChildBlock("k", new Dense(d, kv, false));
    v = addChildBlock("v", new Dense(d, kv, false));
    o = addChildBlock("o", new Dense(d, d, false));
    mlpNorm = NormLayer.of(config.norm(), d, config.normEps(), sets, "mlpNormBudgetGain");
    addChildBlock("mlpNorm", mlpNorm.block());
    if (sets > 0) {
      addParameter(attnNorm.budgetGain());
      addParameter(mlpNorm.budgetGain());
    }
    up = addChildBlock("up", new Dense(d, config.ffnDim(), false));
    gate =
        config.mlp() == LmConfig.Mlp.SWIGLU
            ? addChildBlock("gate", new Dense(d, config.ffnDim(), false))
            : null;
    down = addChildBlock("down", new Dense(config.ffnDim(), d, false));
    int r = config.adapterRank();
    Initializer random = new NormalInitializer((float) (1 / Math.sqrt(d))); // LoRA's: A random
    adapter =
        r == 0
            ? null
            : new LowRank(
                addParameter(weight("adapterDown", sets, d, r, random)),
                addParameter(weight("adapterUp", sets, r, d, Initializer.ZEROS)));
    if (config.loraRank() > 0) {
      lora("q", q, d, d);
      lora("k", k, d, kv);
      lora("v", v, d, kv);
      lora("o", o, d, d);
      if (gate != null) {
        lora("gate", gate, d, config.ffnDim());
      }
      lora("up", up, d, config.ffnDim());
      lora("down", down, config.ffnDim(), d);
    }
  }

  /** LoRA's start for one projection: A random N(0, 1/in), B zero. */
  private void lora(String name, Dense projection, int in, int out) {
    int r = config.loraRank();
    int sets = config.normBudgets().size();
    Initializer random = new NormalInitializer((float) (1 / Math.sqrt(in)));
    Parameter a = addParameter(weight("lora_" + name + "_a", sets, in, r, random));
    Parameter b = addParameter(weight("lora_" + name + "_b", sets, r, out, Initializer.ZEROS));
    lora.put(projection, new LowRank(a, b));
  }

  private static Parameter weight(String name, int sets, int in, int out, Initializer init) {
    return Parameter.builder()
        .setName(name)
        .setType(Parameter.Type.WEIGHT)
        .optShape(new Shape(sets, in, out))
        .optInitializer(init)
        .build();
  }

  /**
   * What a layer returns: its output, its keys and values (K/V heads) including the cache, and its
   * attention weights (B, H, L, S + L) when asked for (training reads of where the LM looks), else
   * null.
   */
  record Out(NDArray hidden, NDArray keys, NDArray values, NDArray attention) {}

  /**
   * @param x (B, L, D) hidden states of the new positions
   * @param rope rotations of the new positions
   * @param mask additive, broadcastable to (B, H, L, S + L)
   * @param pastKeys null or (B, Hkv, S, dh)
   * @param pastValues null or (B, Hkv, S, dh)
   * @param sets null or (B) int64, each row's switchable-norm set
   * @param lowRankSets null (the adapters and LoRA updates skipped: no row's set holds one) or
   *     {@code sets}
   * @param keepAttention return the attention weights too
   */
  Out apply(
      ParameterStore ps,
      NDArray x,
      Rope rope,
      NDArray mask,
      NDArray pastKeys,
      NDArray pastValues,
      NDArray sets,
      NDArray lowRankSets,
      boolean keepAttention,
      boolean training) {
    int heads = config.heads();
    int kvHeads = config.kvHeads();
    NDArray h = attnNorm.apply(ps, x, sets, training); // (B, L, D)
    NDArray qh = rope.apply(Attention.splitHeads(project(ps, q, h, lowRankSets, training), heads));
    NDArray kh =
        rope.apply(Attention.splitHeads(project(ps, k, h, lowRankSets, training), kvHeads));
    NDArray vh =
        Attention.splitHeads(project(ps, v, h, lowRankSets, training), kvHeads); // (B,Hkv,L,dh)
    if (pastKeys != null) {
      kh = NDArrays.concat(new NDList(pastKeys, kh), 2); // (B, Hkv, S + L, dh)
      vh = NDArrays.concat(new NDList(pastValues, vh), 2);
    }
    NDArray weights = Attention.weights(qh, repeatKv(kh, heads / kvHeads), mask); // (B,H,L,S+L)
    NDArray attended =
        Attention.mergeHeads(weights.matMul(repeatKv(vh, heads / kvHeads))); // (B, L, D)
    x = x.add(project(ps, o, attended, lowRankSets, training));
    NDArray m = mlpNorm.apply(ps, x, sets, training);
    NDArray hidden =
        gate == null
            ? Activation.gelu(project(ps, up, m, lowRankSets, training))
            : silu(project(ps, gate, m, lowRankSets, training))
                .mul(project(ps, up, m, lowRankSets, training)); // (B, L, F)
    NDArray out = x.add(project(ps, down, hidden, lowRankSets, training)); // (B, L, D)
    if (adapter != null && lowRankSets != null) {
      out = out.add(lowRank(ps, m, adapter, lowRankSets, training));
    }
    return new Out(out, kh, vh, keepAttention ? weights : null);
  }

  /**
   * A projection (..., in) → (..., out), plus, with per-budget LoRA and known sets, each row's
   * update for its set: {@code x Wᵀ + x · A[set] · B[set]}.
   */
  private NDArray project(
      ParameterStore ps, Dense projection, NDArray x, NDArray sets, boolean training) {
    NDArray y = projection.apply(ps, x, training);
    LowRank update = lora.get(projection);
    return update == null || sets == null ? y : y.add(lowRank(ps, x, update, sets, training));
  }

  /**
   * Per budget set, whether this layer's per-budget low-rank maps (the adapter's up map, each LoRA
   * B) hold anything for it: while they are all zero, as every set starts, its rows add nothing.
   * One reduction per map over all sets.
   */
  boolean[] updatedSets() {
    boolean[] updated = new boolean[config.normBudgets().size()];
    List<Parameter> zeroAtStart = new ArrayList<>();
    if (adapter != null) {
      zeroAtStart.add(adapter.b());
    }
    lora.values().forEach(update -> zeroAtStart.add(update.b()));
    for (Parameter b : zeroAtStart) {
      try (NDArray magnitude = b.getArray().abs();
          NDArray total = magnitude.sum(new int[] {1, 2})) { // (sets): 0 only if all are
        float[] perSet = total.toFloatArray();
        for (int s = 0; s < updated.length; s++) {
          updated[s] |= perSet[s] != 0;
        }
      }
    }
    return updated;
  }

  /**
   * Each row's low-rank map of its set (an adapter, or a projection's LoRA update): (B, L, in) ·
   * a[set] (B, in, r) · b[set] (B, r, out) → (B, L, out).
   *
   * @param x (B, L, in)
   * @param sets (B) int64, each row's budget set
   */
  private static NDArray lowRank(
      ParameterStore ps, NDArray x, LowRank map, NDArray sets, boolean training) {
    NDArray as = ps.getValue(map.a(), x.getDevice(), training).get(new NDIndex("{}", sets));
    NDArray bs = ps.getValue(map.b(), x.getDevice(), training).get(new NDIndex("{}", sets));
    as.attach(x.getManager()); // (B, in, r), gathered in the model's manager: dies with the pass
    bs.attach(x.getManager()); // (B, r, out)
    return x.matMul(as).matMul(bs);
  }

  /**
   * (B, Hkv, S, dh) → (B, Hkv·n, S, dh): query head h uses K/V head h / n, as LLaMA's repeat_kv.
   */
  private static NDArray repeatKv(NDArray x, int n) {
    if (n == 1) {
      return x;
    }
    Shape s = x.getShape();
    return x.expandDims(2).repeat(2, n).reshape(s.get(0), s.get(1) * n, s.get(2), s.get(3));
  }

  private static NDArray silu(NDArray x) {
    return x.mul(Activation.sigmoid(x));
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    attnNorm.collect(prefix + ".attn_norm", out);
    collect(q, prefix + ".attn.q_proj", out);
    collect(k, prefix + ".attn.k_proj", out);
    collect(v, prefix + ".attn.v_proj", out);
    collect(o, prefix + ".attn.o_proj", out);
    mlpNorm.collect(prefix + ".mlp_norm", out);
    collect(up, prefix + ".mlp.up_proj", out);
    if (gate != null) {
      collect(gate, prefix + ".mlp.gate_proj", out);
    }
    collect(down, prefix + ".mlp.down_proj", out);
    if (adapter != null) {
      out.put(prefix + ".mlp." + ADAPTER_DOWN, adapter.a());
      out.put(prefix + ".mlp." + ADAPTER_UP, adapter.b());
    }
  }

  /** A projection's weight and, with per-budget LoRA, its A and B maps beside it. */
  private void collect(Dense projection, String prefix, Map<String, Parameter> out) {
    projection.collect(prefix, out);
    LowRank update = lora.get(projection);
    if (update != null) {
      out.put(prefix + "." + LORA_A, update.a());
      out.put(prefix + "." + LORA_B, update.b());
    }
  }

  /** The same parameters under Hugging Face {@code LlamaDecoderLayer}'s names. */
  void collectHuggingFace(String prefix, Map<String, Parameter> out) {
    attnNorm.collect(prefix + ".input_layernorm", out);
    q.collect(prefix + ".self_attn.q_proj", out);
    k.collect(prefix + ".self_attn.k_proj", out);
    v.collect(prefix + ".self_attn.v_proj", out);
    o.collect(prefix + ".self_attn.o_proj", out);
    mlpNorm.collect(prefix + ".post_attention_layernorm", out);
    up.collect(prefix + ".mlp.up_proj", out);
    if (gate != null) {
      gate.collect(prefix + ".mlp.gate_proj", out);
    }
    down.collect(prefix + ".mlp.down_proj", out);
  }

  /**
   * DJL's {@code Block.forward}: hidden states (B, L, D) → (B, L, D), one causal pass over
   * positions 0..L-1 with no padding and no cache. The LM calls {@link #apply} with its own
   * positions, mask and cache.
   */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.singletonOrThrow(); // (B, L, D)
    NDManager scope = x.getManager();
    int b = Math.toIntExact(x.getShape().get(0));
    int l = Math.toIntExact(x.getShape().get(1));
    Rope rope =
        config.positions() == LmConfig.Positions.ROPE
            ? Rope.of(scope, DecoderLm.positions(b, l), config.headDim(), config.ropeTheta())
            : Rope.NONE;
    return new NDList(
        apply(ps, x, rope, DecoderLm.causal(scope, l, 0), null, null, null, null, false, training)
            .hidden());
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return inputShapes;
  }
}
