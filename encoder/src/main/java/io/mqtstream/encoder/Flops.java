package io.mqtstream.encoder;

/**
 * Analytic FLOP counts (a multiply-add is 2 FLOPs; norms, softmax and activations are left out, as
 * is usual). They explain the token budget: the encoder's cost barely depends on m, while the LLM's
 * prefill grows with the visual tokens T·m it reads.
 */
public final class Flops {
  private Flops() {}

  /** Shape of a decoder-only LLM, enough to count its prefill. */
  public record LlmShape(int layers, int dim, int ffnDim, int vocab, boolean gatedMlp) {}

  /** The vision backbone, per frame. */
  public static long backbone(VitConfig v) {
    long p = v.patches();
    long d = v.dim();
    long patchEmbed = 2 * p * (3L * v.patchSize() * v.patchSize()) * d;
    if (v.stem() == VitConfig.Stem.CONV) { // 3×3 stride-2 convolutions, widths doubling up to d
      patchEmbed = 0;
      long in = 3;
      long side = v.imageSize();
      for (int out : ConvStem.widths(v.patchSize(), v.dim())) {
        side /= 2;
        patchEmbed += 2 * side * side * out * in * 9;
        in = out;
      }
    }
    long perLayer =
        2 * p * d * 3 * d // qkv
            + 2 * 2 * p * p * d // scores and mixing
            + 2 * p * d * d // attention output
            + 2 * 2 * p * d * (v.mlpRatio() * d); // MLP
    return patchEmbed + v.layers() * perLayer;
  }

  /** The MQT with m queries, per frame (keys and values do not depend on m). */
  public static long mqt(MqtConfig c, int m) {
    long p = c.patches();
    long d = c.dim();
    long keysValues = 2 * p * c.featureDim() * d + 2 * 2 * p * d * d;
    long perQuery = 2 * d * d + 2 * 2 * p * d + 2 * d * d + 2 * d * c.outputDim();
    return keysValues + m * perQuery;
  }

  /** The whole encoder at m tokens, per frame. */
  public static long encoder(EncoderConfig c, int m) {
    return backbone(c.vision()) + mqt(c.mqt(), m);
  }

  /**
   * The LLM prefill of one prompt: T frames of m visual tokens, one separator, the text, then the
   * LM head on the last position.
   */
  public static long llmPrefill(LlmShape llm, int m, int frames, int textTokens) {
    long n = (long) frames * m + 1 + textTokens;
    long d = llm.dim();
    long mlp = (llm.gatedMlp() ? 3L : 2L) * 2 * n * d * llm.ffnDim();
    long perLayer = 2 * n * d * 4 * d + 2 * 2 * n * n * d + mlp;
    return llm.layers() * perLayer + 2 * d * llm.vocab();
  }
}
