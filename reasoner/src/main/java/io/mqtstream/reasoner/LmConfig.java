package io.mqtstream.reasoner;

import java.util.List;
import java.util.function.Consumer;

/**
 * Shape of the decoder-only language model. LLaMA-style choices (RMSNorm, SwiGLU, RoPE, untied
 * head) are configuration of the one implementation, not a second one.
 *
 * @param vocab vocabulary size
 * @param dim model width D (the visual tokens' width)
 * @param layers decoder layers
 * @param heads attention heads; divide dim, head width even
 * @param ffnDim hidden width of the MLP
 * @param maxFrames most frames in one prompt (size of the frame-index embedding)
 * @param maxPositions longest sequence (prompt plus answer)
 * @param norm LayerNorm or RMSNorm
 * @param mlp GELU MLP or SwiGLU
 * @param positions rotary or learned absolute positions
 * @param ropeTheta RoPE base
 * @param tiedEmbeddings whether the output head is the token embedding
 * @param kvHeads key/value heads (grouped-query attention: {@code num_key_value_heads}); 0 = heads
 * @param normEps the norms' ε ({@code rms_norm_eps}); 0 = the norm's default (RMSNorm 1e-6,
 *     LayerNorm 1e-5)
 * @param promptOrder where the question stands in this project's own prompt format: after the
 *     frames' tokens (mqt-tiny v1–v4's) or before them, so that every frame token can attend to the
 *     question from the first layer on; absent in older {@code llm.json} files = frames first
 * @param tokenIndex rows of the token-index embedding: a learned vector per index k of a token
 *     within its frame, added as the frame-index embedding is, so the LM can address "token k of
 *     frame t" whatever m is (rotary positions are relative, and a frame's m moves every token
 *     behind it); at least the encoder's M; 0 = none (absent in older {@code llm.json} files)
 * @param frameDifference whether each visual token also gets a learned linear map of its change
 *     since the same token of the frame before ({@code embed_frame_difference}): the encoder sees
 *     one frame at a time, so a token says where its object is and only the change says where it is
 *     going; with it the token the LM attends to for "the red circle" carries its motion too (false
 *     in older {@code llm.json} files)
 * @param budget rows of the budget embedding: a learned vector per budget m (row m − 1), added to
 *     each of a frame's m tokens, so the LM knows how many tokens of each frame it reads and can
 *     read four tokens otherwise than sixty-four (a frame's first m tokens are the same whatever m
 *     is; only the LM can change how it reads them); at least the encoder's M; 0 = none (absent in
 *     older {@code llm.json} files)
 * @param normBudgets switchable norms: the smallest budget m of each set of per-budget norm gains,
 *     ascending (set i serves m from its bound up to the next one's); every norm of the LM then
 *     scales its output by 1 + the gain of the set a row's m falls in, so a model that answers at
 *     every m keeps per-budget weights in every layer, as slimmable networks keep a norm per width
 *     (Yu et al. 2019); empty = none (absent in older {@code llm.json} files)
 * @param adapterRank per-budget adapters: with switchable norms, every decoder layer also adds to
 *     its MLP's output, for the set a row's m falls in, a low-rank map of the MLP's normed input
 *     (down D → r, up r → D; a parallel adapter, He et al. 2022, one per set as the norm gains
 *     are), so each budget owns a little capacity in every layer besides a scale; 0 = none (absent
 *     in older {@code llm.json} files)
 * @param loraRank per-budget low-rank updates of the LM's own weights: with switchable norms, every
 *     projection of every decoder layer (attention q, k, v, o; MLP gate, up, down) adds, for the
 *     set a row's m falls in, {@code x · A[set] · B[set]} to its output (LoRA, Hu et al. 2022, one
 *     per set), so a budget can change how the LM attends and what its MLPs compute, where a map
 *     beside the MLP cannot reach; B from zero; 0 = none (absent in older {@code llm.json} files)
 */
public record LmConfig(
    int vocab,
    int dim,
    int layers,
    int heads,
    int ffnDim,
    int maxFrames,
    int maxPositions,
    Norm norm,
    Mlp mlp,
    Positions positions,
    float ropeTheta,
    boolean tiedEmbeddings,
    int kvHeads,
    float normEps,
    PromptOrder promptOrder,
    int tokenIndex,
    boolean frameDifference,
    int budget,
    List<Integer> normBudgets,
    int adapterRank,
    int loraRank) {

  public enum Norm {
    LAYER,
    RMS
  }

  public enum Mlp {
    GELU,
    SWIGLU
  }

  public enum Positions {
    ROPE,
    LEARNED
  }

  /** Where the question stands in this project's own prompt format. */
  public enum PromptOrder {
    /** [frame tokens…, sep, question]: the frames cannot see the question (causal attention). */
    FRAMES_FIRST,
    /** [question, sep, frame tokens…, sep]: every frame token attends to the question. */
    QUESTION_FIRST
  }

  public LmConfig {
    positive("llm.vocab", vocab);
    positive("llm.dim", dim);
    positive("llm.layers", layers);
    positive("llm.heads", heads);
    positive("llm.ffnDim", ffnDim);
    positive("llm.maxFrames", maxFrames);
    positive("llm.maxPositions", maxPositions);
    if (dim % heads != 0 || (dim / heads) % 2 != 0) {
      throw new IllegalArgumentException(
          "llm.heads: must divide dim " + dim + " into even head widths");
    }
    kvHeads = kvHeads == 0 ? heads : kvHeads;
    promptOrder = promptOrder == null ? PromptOrder.FRAMES_FIRST : promptOrder;
    if (kvHeads < 1 || heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "llm.kvHeads: must divide heads " + heads + ", got " + kvHeads);
    }
    if (tokenIndex < 0) {
      throw new IllegalArgumentException("llm.tokenIndex: must be >= 0, got " + tokenIndex);
    }
    if (budget < 0) {
      throw new IllegalArgumentException("llm.budget: must be >= 0, got " + budget);
    }
    normBudgets = normBudgets == null ? List.of() : List.copyOf(normBudgets);
    for (int i = 0; i < normBudgets.size(); i++) {
      Integer bound = normBudgets.get(i);
      if (bound == null || bound < 1 || (i > 0 && bound <= normBudgets.get(i - 1))) {
        throw new IllegalArgumentException(
            "llm.normBudgets: must be ascending budgets >= 1, got " + normBudgets);
      }
    }
    if (adapterRank < 0 || (adapterRank > 0 && normBudgets.isEmpty())) {
      throw new IllegalArgumentException(
          "llm.adapterRank: must be 0, or >= 1 with llm.normBudgets (the sets it keeps an adapter"
              + " for), got "
              + adapterRank);
    }
    if (loraRank < 0 || (loraRank > 0 && normBudgets.isEmpty())) {
      throw new IllegalArgumentException(
          "llm.loraRank: must be 0, or >= 1 with llm.normBudgets (the sets it keeps updates for),"
              + " got "
              + loraRank);
    }
    if (norm == null || mlp == null || positions == null) {
      throw new IllegalArgumentException("llm.norm, llm.mlp and llm.positions must be set");
    }
  }

  /** The {@code mqt-tiny} LM: 4 layers, width 256, 4 heads, RMSNorm, SwiGLU, RoPE, tied head. */
  public static LmConfig tiny(int vocab) {
    return new LmConfig(
        vocab,
        256,
        4,
        4,
        512,
        8,
        1024,
        Norm.RMS,
        Mlp.SWIGLU,
        Positions.ROPE,
        10_000f,
        true,
        0,
        0,
        PromptOrder.FRAMES_FIRST,
        0,
        false,
        0,
        List.of(),
        0,
        0);
  }

  /** The same model with the question standing elsewhere in its prompts. */
  public LmConfig withPromptOrder(PromptOrder order) {
    return edit(e -> e.promptOrder = order);
  }

  /** The same model with another number of decoder layers. */
  public LmConfig withLayers(int n) {
    return edit(e -> e.layers = n);
  }

  /** The same model with a token-index embedding of {@code rows} rows (0 = none). */
  public LmConfig withTokenIndex(int rows) {
    return edit(e -> e.tokenIndex = rows);
  }

  /** The same model with or without the frame-difference map. */
  public LmConfig withFrameDifference(boolean on) {
    return edit(e -> e.frameDifference = on);
  }

  /** The same model with a budget embedding of {@code rows} rows (0 = none). */
  public LmConfig withBudget(int rows) {
    return edit(e -> e.budget = rows);
  }

  /** The same model with switchable norms for these budgets (empty = none). */
  public LmConfig withNormBudgets(List<Integer> bounds) {
    return edit(e -> e.normBudgets = bounds);
  }

  /** The same model with per-budget adapters of rank {@code rank} (0 = none). */
  public LmConfig withAdapterRank(int rank) {
    return edit(e -> e.adapterRank = rank);
  }

  /** The same model with per-budget LoRA updates of rank {@code rank} (0 = none). */
  public LmConfig withLoraRank(int rank) {
    return edit(e -> e.loraRank = rank);
  }

  /** The same model with a vocabulary of {@code size} tokens. */
  public LmConfig withVocab(int size) {
    return edit(e -> e.vocab = size);
  }

  /** The components a wither may change, starting as this model's. */
  private static final class Edit {
    int vocab;
    int layers;
    PromptOrder promptOrder;
    int tokenIndex;
    boolean frameDifference;
    int budget;
    List<Integer> normBudgets;
    int adapterRank;
    int loraRank;
  }

  /** This model with {@code change} applied to a copy of its changeable components. */
  private LmConfig edit(Consumer<Edit> change) {
    Edit e = new Edit();
    e.vocab = vocab;
    e.layers = layers;
    e.promptOrder = promptOrder;
    e.tokenIndex = tokenIndex;
    e.frameDifference = frameDifference;
    e.budget = budget;
    e.normBudgets = normBudgets;
    e.adapterRank = adapterRank;
    e.loraRank = loraRank;
    change.accept(e);
    return new LmConfig(
        e.vocab,
        dim,
        e.layers,
        heads,
        ffnDim,
        maxFrames,
        maxPositions,
        norm,
        mlp,
        positions,
        ropeTheta,
        tiedEmbeddings,
        kvHeads,
        normEps,
        e.promptOrder,
        e.tokenIndex,
        e.frameDifference,
        e.budget,
        e.normBudgets,
        e.adapterRank,
        e.loraRank);
  }

  /**
   * The switchable-norm set that serves budget m: the last whose bound is at most m (the first for
   * an m below every bound); −1 without switchable norms.
   */
  public int normSet(int m) {
    int set = normBudgets.isEmpty() ? -1 : 0;
    for (int i = 1; i < normBudgets.size(); i++) {
      if (normBudgets.get(i) <= m) {
        set = i;
      }
    }
    return set;
  }

  public int headDim() {
    return dim / heads;
  }

  private static void positive(String key, int v) {
    if (v < 1) {
      throw new IllegalArgumentException(key + ": must be >= 1, got " + v);
    }
  }
}
