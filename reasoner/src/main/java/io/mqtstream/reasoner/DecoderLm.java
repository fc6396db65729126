package io.mqtstream.reasoner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import io.mqtstream.nn.Attention;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Rope;
import io.mqtstream.nn.Tensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The decoder-only language model: token, frame-index and (optionally) token-index and budget
 * embeddings, pre-norm decoder layers with causal self-attention and a KV cache, a final norm and
 * the output head. Rows of a batch are left-padded; padded slots are masked out of attention, so a
 * row's result does not depend on its neighbours.
 */
public final class DecoderLm extends ModelBlock {
  /** Added to the attention score of a hidden slot: exp underflows to exactly 0 in float32. */
  static final float MASKED = -1e9f;

  /** The token-index embedding's name under the model's prefix ({@link LmConfig#tokenIndex()}). */
  static final String TOKEN_INDEX_WEIGHT = "embed_token_index.weight";

  /**
   * The frame-difference map's name under the model's prefix ({@link LmConfig#frameDifference()}).
   */
  static final String FRAME_DIFFERENCE_WEIGHT = "embed_frame_difference.weight";

  /** The budget embedding's name under the model's prefix ({@link LmConfig#budget()}). */
  static final String BUDGET_WEIGHT = "embed_budget.weight";

  private final LmConfig config;
  private final Parameter tokenEmbedding; // (V, D)
  private final Parameter frameEmbedding; // (maxFrames, D)
  private final Parameter tokenIndexEmbedding; // (tokenIndex, D), or null
  private final Parameter frameDifference; // (D, D), or null
  private final Parameter budgetEmbedding; // (budget, D), or null
  private final Parameter positionEmbedding; // (maxPositions, D), learned positions only
  private final List<DecoderLayer> layers = new ArrayList<>();
  private final NormLayer finalNorm;
  private final Dense head; // untied head only
  // Per set: whether some layer's adapter or LoRA update holds anything for it (null: not known).
  // A training pass clears it (its step may move the maps); weights written otherwise must call
  // weightsChanged(). Sets still at zero skip the low-rank path at inference.
  private volatile boolean[] updated;

  public DecoderLm(LmConfig config) {
    this.config = config;
    tokenEmbedding = addParameter(embedding("tokenEmbedding", config.vocab(), config.dim()));
    frameEmbedding = addParameter(embedding("frameEmbedding", config.maxFrames(), config.dim()));
    tokenIndexEmbedding =
        config.tokenIndex() > 0
            ? addParameter(embedding("tokenIndexEmbedding", config.tokenIndex(), config.dim()))
            : null;
    frameDifference =
        config.frameDifference()
            ? addParameter(embedding("frameDifference", config.dim(), config.dim()))
            : null;
    budgetEmbedding =
        config.budget() > 0
            ? addParameter(embedding("budgetEmbedding", config.budget(), config.dim()))
            : null;
    positionEmbedding =
        config.positions() == LmConfig.Positions.LEARNED
            ? addParameter(embedding("positionEmbedding", config.maxPositions(), config.dim()))
            : null;
    for (int i = 0; i < config.layers(); i++) {
      layers.add(addChildBlock("layer" + i, new DecoderLayer(config)));
    }
    finalNorm =
        NormLayer.of(
            config.norm(),
            config.dim(),
            config.normEps(),
            config.normBudgets().size(),
            "finalNormBudgetGain");
    addChildBlock("finalNorm", finalNorm.block());
    if (finalNorm.budgetGain() != null) {
      addParameter(finalNorm.budgetGain());
    }
    head =
        config.tiedEmbeddings()
            ? null
            : addChildBlock("head", new Dense(config.dim(), config.vocab(), false));
  }

  private static Parameter embedding(String name, int rows, int dim) {
    return Parameter.builder()
        .setName(name)
        .setType(Parameter.Type.WEIGHT)
        .optShape(new Shape(rows, dim))
        .optInitializer(new NormalInitializer(0.02f))
        .build();
  }

  public LmConfig config() {
    return config;
  }

  /** Token embeddings of {@code ids}, (B, L) → (B, L, D), owned by {@code scope}. */
  public NDArray embedTokens(ParameterStore ps, NDManager scope, long[][] ids, boolean training) {
    NDArray table = ps.getValue(tokenEmbedding, scope.getDevice(), training);
    NDArray out = table.get(new NDIndex("{}", Tensors.longs(scope, ids))); // (B, L, D)
    out.attach(scope);
    return out;
  }

  /** The learned embedding of frame index t, (D), owned by {@code scope}. */
  public NDArray frameIndex(ParameterStore ps, NDManager scope, int t, boolean training) {
    NDArray out = ps.getValue(frameEmbedding, scope.getDevice(), training).get(t);
    out.attach(scope);
    return out;
  }

  /**
   * The learned embeddings of token indices 0..m-1 within a frame, (m, D), owned by {@code scope},
   * for a model with a token-index embedding ({@link LmConfig#tokenIndex()} > 0).
   */
  public NDArray tokenIndex(ParameterStore ps, NDManager scope, int m, boolean training) {
    if (tokenIndexEmbedding == null) {
      throw new IllegalStateException("this LM has no token-index embedding (llm.tokenIndex 0)");
    }
    if (m > config.tokenIndex()) {
      throw new IllegalArgumentException(
          "llm.tokenIndex: "
              + config.tokenIndex()
              + " rows, but a frame has "
              + m
              + " tokens (the encoder's M is larger than the LM was built for)");
    }
    NDArray out =
        ps.getValue(tokenIndexEmbedding, scope.getDevice(), training).get(new NDIndex(":{}", m));
    out.attach(scope);
    return out;
  }

  /**
   * The learned embedding of budget m (row m − 1), (D), owned by {@code scope}, for a model with a
   * budget embedding ({@link LmConfig#budget()} > 0): what each of a frame's m tokens gains so the
   * LM can tell how many it reads.
   */
  public NDArray budget(ParameterStore ps, NDManager scope, int m, boolean training) {
    if (budgetEmbedding == null) {
      throw new IllegalStateException("this LM has no budget embedding (llm.budget 0)");
    }
    if (m < 1 || m > config.budget()) {
      throw new IllegalArgumentException(
          "llm.budget: "
              + config.budget()
              + " rows, but a frame has "
              + m
              + " tokens (the encoder's M is larger than the LM was built for)");
    }
    NDArray out = ps.getValue(budgetEmbedding, scope.getDevice(), training).get(m - 1);
    out.attach(scope);
    return out;
  }

  /**
   * What a frame's tokens gain from their change since the frame before, for a model with the
   * frame-difference map ({@link LmConfig#frameDifference()}): token k of frame t gains (x_t,k −
   * x_t−1,k) W for every k both frames have (a frame's m may differ from the one before under a
   * token budget; the first m tokens are the same queries' outputs, so token k of both is the same
   * query), nothing where the frame before has no token k.
   *
   * @param now (m, D) the frame's tokens
   * @param before (m', D) the previous frame's tokens
   * @return (m, D), owned by {@code scope}
   */
  public NDArray frameDifference(
      ParameterStore ps, NDManager scope, NDArray now, NDArray before, boolean training) {
    if (frameDifference == null) {
      throw new IllegalStateException("this LM has no frame-difference map (llm.frameDifference)");
    }
    long m = now.getShape().get(0);
    long shared = Math.min(m, before.getShape().get(0));
    NDArray change = // (shared, D)
        now.get(new NDIndex(":{}", shared)).sub(before.get(new NDIndex(":{}", shared)));
    NDArray out = change.matMul(ps.getValue(frameDifference, scope.getDevice(), training));
    if (shared < m) {
      out =
          out.concat(scope.zeros(new Shape(m - shared, now.getShape().get(1)), out.getDataType()));
    }
    out.attach(scope);
    return out;
  }

  /**
   * What a forward pass returns: logits (B, L or 1, V), the cache, the final-normed hidden states
   * the logits are read from (B, L or 1, D), for training reads of what the LM holds, and the
   * attention weights (B, H, L, S + L) of the layer asked for and that layer's output (B, L, D),
   * for training reads of where it looks and what it gathered there (both null when none was asked
   * for).
   */
  public record Forward(
      NDArray logits, KvCache cache, NDArray hidden, NDArray attention, NDArray layerHidden) {}

  /**
   * Runs new positions through the model.
   *
   * @param x (B, L, D) input embeddings of the new positions
   * @param positions (B × L) position of each new token in its own sequence
   * @param padNew (B × L) 0 for a real token, {@link #MASKED} for left padding
   * @param past the cache of earlier positions, or null
   * @param lastOnly compute logits for the last position only (generation)
   * @return logits (B, L or 1, V), the cache including the new positions, the hidden states
   */
  public Forward forward(
      ParameterStore ps,
      NDArray x,
      long[][] positions,
      float[][] padNew,
      KvCache past,
      boolean lastOnly,
      boolean training) {
    return forward(ps, x, positions, padNew, past, lastOnly, -1, null, training);
  }

  /**
   * {@link #forward(ParameterStore, NDArray, long[][], float[][], KvCache, boolean, boolean)} that
   * also returns the attention weights and the output of layer {@code attentionOf} (−1: none), for
   * rows whose frames were cut to {@code budgets[r]} tokens each (null: not known): with switchable
   * norms ({@link LmConfig#normBudgets()}) every norm of row r uses its budget's gains, and with
   * per-budget adapters ({@link LmConfig#adapterRank()}) or LoRA ({@link LmConfig#loraRank()})
   * every layer its budget's maps; without, the budgets change nothing.
   */
  public Forward forward(
      ParameterStore ps,
      NDArray x,
      long[][] positions,
      float[][] padNew,
      KvCache past,
      boolean lastOnly,
      int attentionOf,
      int[] budgets,
      boolean training) {
    NDManager scope = x.getManager();
    int b = positions.length;
    NDArray sets = normSets(scope, budgets, b); // (B) int64, or null
    if (training) {
      updated = null;
    }
    NDArray lowRankSets = training || sets == null || anyUpdated(budgets) ? sets : null;
    int l = positions[0].length;
    int s = past == null ? 0 : past.slots();
    if (positionEmbedding != null) {
      NDArray table = ps.getValue(positionEmbedding, scope.getDevice(), training);
      NDArray pos = table.get(new NDIndex("{}", Tensors.longs(scope, positions))); // (B, L, D)
      pos.attach(scope);
      x = x.add(pos);
    }
    Rope rope =
        config.positions() == LmConfig.Positions.ROPE
            ? Rope.of(scope, positions, config.headDim(), config.ropeTheta())
            : Rope.NONE;
    float[][] pad = new float[b][s + l];
    for (int r = 0; r < b; r++) {
      if (s > 0) {
        System.arraycopy(past.padMask()[r], 0, pad[r], 0, s);
      }
      System.arraycopy(padNew[r], 0, pad[r], s, l);
    }
    NDArray mask = causal(scope, l, s).add(padRows(scope, pad)); // (B, 1, L, S + L)
    if (x.getDataType() != DataType.FLOAT32) { // fp16: cast once here, not in every layer
      rope = rope.as(x.getDataType());
      mask = mask.maximum(Attention.HIDDEN_HALF).toType(x.getDataType(), false);
    }
    List<NDArray> keys = new ArrayList<>(layers.size());
    List<NDArray> values = new ArrayList<>(layers.size());
    NDArray attention = null;
    NDArray layerHidden = null;
    for (int i = 0; i < layers.size(); i++) {
      DecoderLayer.Out out =
          layers
              .get(i)
              .apply(
                  ps,
                  x,
                  rope,
                  mask,
                  past == null ? null : past.keys().get(i),
                  past == null ? null : past.values().get(i),
                  sets,
                  lowRankSets,
                  i == attentionOf,
                  training);
      x = out.hidden(); // (B, L, D)
      if (i == attentionOf) {
        attention = out.attention(); // (B, H, L, S + L)
        layerHidden = x; // (B, L, D)
      }
      keys.add(out.keys());
      values.add(out.values());
    }
    NDArray h = finalNorm.apply(ps, x, sets, training);
    if (lastOnly) {
      h = h.get(new NDIndex(":, -1:, :")); // (B, 1, D)
    }
    NDArray logits =
        head != null
            ? head.apply(ps, h, training)
            // h · Eᵀ without materialising Eᵀ (a transpose of a parameter would be owned by the
            // model's manager, one leaked array per forward)
            : Linear.linear(h, ps.getValue(tokenEmbedding, scope.getDevice(), training))
                .singletonOrThrow();
    if (logits.getDataType() != DataType.FLOAT32) {
      logits = logits.toType(DataType.FLOAT32, false); // sampling reads floats
    }
    return new Forward(logits, new KvCache(keys, values, pad), h, attention, layerHidden);
  }

  /**
   * Whether any row's budget set holds an adapter or LoRA update: the rows of sets still at zero,
   * as every set starts, would add zero, so a batch of them skips the low-rank path (v19's m = 2,
   * 8, 16 and 32 pay what v18 paid).
   */
  private boolean anyUpdated(int[] budgets) {
    if (config.adapterRank() == 0 && config.loraRank() == 0) {
      return false;
    }
    boolean[] known = updated;
    if (known == null) {
      known = new boolean[config.normBudgets().size()];
      for (DecoderLayer layer : layers) {
        boolean[] its = layer.updatedSets();
        for (int s = 0; s < known.length; s++) {
          known[s] |= its[s];
        }
      }
      updated = known;
    }
    for (int budget : budgets) {
      if (known[config.normSet(budget)]) {
        return true;
      }
    }
    return false;
  }

  /**
   * Forgets which budget sets hold an adapter or LoRA update, after weights were written other than
   * by a training pass (which forgets it itself).
   */
  void weightsChanged() {
    updated = null;
  }

  /** Each row's switchable-norm set, (B) int64; null without switchable norms or budgets. */
  private NDArray normSets(NDManager scope, int[] budgets, int b) {
    if (config.normBudgets().isEmpty() || budgets == null) {
      return null;
    }
    if (budgets.length != b) {
      throw new IllegalArgumentException(budgets.length + " budgets for " + b + " rows");
    }
    long[][] sets = new long[1][b];
    for (int r = 0; r < b; r++) {
      sets[0][r] = config.normSet(budgets[r]);
    }
    return Tensors.longs(scope, sets).squeeze(0);
  }

  /** (1, 1, L, S + L): new token i (slot S + i) sees slots 0..S + i. */
  static NDArray causal(NDManager scope, int l, int s) {
    int total = s + l;
    ByteBuffer buf =
        ByteBuffer.allocateDirect(l * total * Float.BYTES).order(ByteOrder.nativeOrder());
    for (int i = 0; i < l; i++) {
      for (int j = 0; j < total; j++) {
        buf.putFloat(j <= s + i ? 0f : MASKED);
      }
    }
    return Tensors.create(scope, buf.flip(), new Shape(1, 1, l, total));
  }

  /** (B, 1, 1, S + L) from the per-row padding masks. */
  private static NDArray padRows(NDManager scope, float[][] pad) {
    int b = pad.length;
    int total = pad[0].length;
    ByteBuffer buf =
        ByteBuffer.allocateDirect(b * total * Float.BYTES).order(ByteOrder.nativeOrder());
    for (float[] row : pad) {
      for (float v : row) {
        buf.putFloat(v);
      }
    }
    return Tensors.create(scope, buf.flip(), new Shape(b, 1, 1, total));
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    out.put(prefix + ".embed_tokens.weight", tokenEmbedding);
    out.put(prefix + ".embed_frames.weight", frameEmbedding);
    if (tokenIndexEmbedding != null) {
      out.put(prefix + "." + TOKEN_INDEX_WEIGHT, tokenIndexEmbedding);
    }
    if (frameDifference != null) {
      out.put(prefix + "." + FRAME_DIFFERENCE_WEIGHT, frameDifference);
    }
    if (budgetEmbedding != null) {
      out.put(prefix + "." + BUDGET_WEIGHT, budgetEmbedding);
    }
    if (positionEmbedding != null) {
      out.put(prefix + ".embed_positions.weight", positionEmbedding);
    }
    for (int i = 0; i < layers.size(); i++) {
      layers.get(i).collect(prefix + ".layers." + i, out);
    }
    finalNorm.collect(prefix + ".norm", out);
    if (head != null) {
      head.collect(prefix + ".lm_head", out);
    }
  }

  /**
   * The parameters under Hugging Face {@code LlamaForCausalLM}'s names ({@code
   * model.embed_tokens.weight}, {@code model.layers.N.self_attn.q_proj.weight}, …, {@code
   * model.norm.weight}, {@code lm_head.weight} when untied), so a LLaMA / Vicuna checkpoint loads
   * unchanged. The frame- and token-index embeddings, which LLaVA has not, are left out.
   */
  public void collectHuggingFace(Map<String, Parameter> out) {
    if (positionEmbedding != null) {
      throw new IllegalStateException("LLaMA has rotary positions, not learned ones");
    }
    out.put("model.embed_tokens.weight", tokenEmbedding);
    for (int i = 0; i < layers.size(); i++) {
      layers.get(i).collectHuggingFace("model.layers." + i, out);
    }
    finalNorm.collect("model.norm", out);
    if (head != null) {
      out.put("lm_head.weight", head.weight);
    }
  }

  /**
   * DJL's {@code Block.forward}: token ids (B, L) int64 → logits (B, L, V), one causal pass from
   * position 0 with no padding and no cache (scoring a text). Prompts with visual tokens and
   * generation use {@link #forward(ParameterStore, NDArray, long[][], float[][], KvCache, boolean,
   * boolean)}.
   */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray ids = inputs.singletonOrThrow(); // (B, L)
    int b = Math.toIntExact(ids.getShape().get(0));
    int l = Math.toIntExact(ids.getShape().get(1));
    long[] flat = ids.toType(DataType.INT64, false).toLongArray();
    long[][] rows = new long[b][l];
    for (int r = 0; r < b; r++) {
      System.arraycopy(flat, r * l, rows[r], 0, l);
    }
    NDArray x = embedTokens(ps, ids.getManager(), rows, training); // (B, L, D)
    return new NDList(
        forward(ps, x, positions(b, l), new float[b][l], null, false, training).logits());
  }

  /** Positions 0..L-1 for each of B rows. */
  static long[][] positions(int b, int l) {
    long[][] positions = new long[b][l];
    for (long[] row : positions) {
      for (int i = 0; i < l; i++) {
        row[i] = i;
      }
    }
    return positions;
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {inputShapes[0].slice(0, 2).add(config.vocab())};
  }
}
