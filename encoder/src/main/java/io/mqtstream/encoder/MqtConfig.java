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
 */
public record MqtConfig(
    int maxTokens,
    int dim,
    int heads,
    int featureDim,
    int patches,
    int outputDim,
    KeyMode keyMode,
    boolean tokenPositions) {

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
  }
}
