package io.mqtstream.encoder;

/**
 * Shape of the Matryoshka Query Transformer.
 *
 * @param maxTokens M, the number of latent queries (they sit on the most square grid of M cells)
 * @param dim width D of the queries and of the attention
 * @param heads attention heads; divide dim
 * @param featureDim Dv, width of the patch features it reads
 * @param patches P, number of patch features per image (on the most square grid of P cells)
 * @param outputDim width of the visual tokens, the LLM's embedding width
 * @param keyMode what the keys are made of
 * @param tokenPositions whether each output token carries its latent query's fixed grid position
 *     (added after the projection): with positional keys a token's attention map is fixed, so its
 *     index is all that says where its content lies, and an LLM that finds the token by content
 *     needs that index in the token itself to answer "where". Checkpoints without the key: false.
 * @param block which block computes the tokens: {@link Block#REFERENCE}, MQT-LLaVA's exactly, or
 *     {@link Block#LEGACY}, the block mqt-tiny v2 was trained with. Checkpoints without the key:
 *     legacy.
 */
public record MqtConfig(
    int maxTokens,
    int dim,
    int heads,
    int featureDim,
    int patches,
    int outputDim,
    KeyMode keyMode,
    boolean tokenPositions,
    Block block) {

  /** Which query-transformer block the encoder runs. */
  public enum Block {
    /**
     * {@link MqtResampler}: the reference block exactly (no value projection, so {@code dim} is the
     * feature width; positional keys; no token positions; M a square).
     */
    REFERENCE,
    /**
     * {@link MatryoshkaQueryTransformer}: the block of mqt-tiny v2, with the departures README
     * lists.
     */
    LEGACY
  }

  /** A legacy-block configuration (the shape every checkpoint before the reference block had). */
  public MqtConfig(
      int maxTokens,
      int dim,
      int heads,
      int featureDim,
      int patches,
      int outputDim,
      KeyMode keyMode,
      boolean tokenPositions) {
    this(
        maxTokens,
        dim,
        heads,
        featureDim,
        patches,
        outputDim,
        keyMode,
        tokenPositions,
        Block.LEGACY);
  }

  /** What the cross-attention keys are made of. */
  public enum KeyMode {
    /** keys = positional embedding of the patch grid only, as in the released MQT-LLaVA code */
    POSITIONAL,
    /** keys = patch features + positional embedding, as in Qwen-VL's resampler */
    CONTENT
  }

  public MqtConfig {
    VitConfig.positive("mqt.maxTokens", maxTokens);
    VitConfig.positive("mqt.dim", dim);
    VitConfig.positive("mqt.heads", heads);
    VitConfig.positive("mqt.featureDim", featureDim);
    VitConfig.positive("mqt.patches", patches);
    VitConfig.positive("mqt.outputDim", outputDim);
    if (dim % heads != 0) {
      throw new IllegalArgumentException("mqt.heads: must divide dim " + dim);
    }
    if (tokenPositions && outputDim % 4 != 0) {
      throw new IllegalArgumentException(
          "mqt.outputDim: must be a multiple of 4 with tokenPositions, got " + outputDim);
    }
    if (dim % 4 != 0) {
      throw new IllegalArgumentException("mqt.dim: must be a multiple of 4, got " + dim);
    }
    if (keyMode == null) {
      throw new IllegalArgumentException("mqt.keyMode: must be positional or content");
    }
    if (block == null) {
      block = Block.LEGACY;
    }
    if (block == Block.REFERENCE) {
      int side = (int) Math.round(Math.sqrt(maxTokens));
      if (side * side != maxTokens) {
        throw new IllegalArgumentException(
            "mqt.maxTokens: the reference block's queries sit on a square grid, got " + maxTokens);
      }
      if (dim != featureDim) {
        throw new IllegalArgumentException(
            "mqt.dim: the reference block attends at the feature width "
                + featureDim
                + ", got "
                + dim);
      }
      if (keyMode != KeyMode.POSITIONAL || tokenPositions) {
        throw new IllegalArgumentException(
            "mqt.block: reference has positional keys and no token positions (keyMode "
                + keyMode
                + ", tokenPositions "
                + tokenPositions
                + ")");
      }
    }
  }

  /** The same block with keys of {@code keys}. */
  public MqtConfig withKeyMode(KeyMode keys) {
    return new MqtConfig(
        maxTokens, dim, heads, featureDim, patches, outputDim, keys, tokenPositions, block);
  }
}
