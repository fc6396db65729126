package io.mqtstream.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import io.mqtstream.encoder.MqtConfig;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.nn.Engines;
import io.mqtstream.nn.Scalars;
import io.mqtstream.nn.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the latent queries looking coarse to fine ({@code queryInit: pyramid}). With positional
 * keys a query's attention does not depend on the image: it is a fixed pooling of the patches, and
 * from a random start every query pools most of the frame (mqt-tiny v3: 27 of 64 patches per head,
 * model card), so every token carries the same blurred frame and m changes little. Here each token
 * first gets a region, whole frame first, then quadrants, then 2 × 2-patch cells, each of its 4
 * heads one quarter of the region; and the query side of the block (latent queries, their norm, the
 * query and key projections) is fitted to that pattern before training starts. Training is then
 * free to move it. The first token alone tells the four quadrants apart, the first 5 the sixteen
 * cells of 2 × 2 patches, the first 21 every patch.
 */
final class QueryPyramid {
  /** Adam steps of the fit: the tiny-model pattern is reached to 99 % of its mass by 300. */
  static final int STEPS = 300;

  private static final float LEARNING_RATE = 1e-2f;
  private static final Logger log = LoggerFactory.getLogger(QueryPyramid.class);

  private QueryPyramid() {}

  /** Why {@code config} cannot start as a pyramid, or null if it can. */
  static String unsupported(MqtConfig config) {
    int side = (int) Math.round(Math.sqrt(config.patches()));
    if (config.block() != MqtConfig.Block.LEGACY
        || config.keyMode() != MqtConfig.KeyMode.POSITIONAL) {
      return "needs block legacy and keyMode positional (attention that does not depend on the"
          + " image)";
    }
    if (config.heads() != 4) {
      return "needs 4 heads (one per quarter of a region), got " + config.heads();
    }
    if (side * side != config.patches() || side < 2 || Integer.bitCount(side) != 1) {
      return "needs a square patch grid whose side is a power of 2, got "
          + config.patches()
          + " patches";
    }
    return null;
  }

  /**
   * The target attention: per head and token, a distribution over the patches, uniform over the
   * token's quarter for that head. Tokens in order: regions of the whole side, then of half the
   * side, … down to 2 × 2 patches, each level in raster order; then the 2 × 2 windows that level
   * left out (offset by one patch); then the list again from its start, until {@code tokens}.
   *
   * @param side patches per row and column (a power of 2)
   * @return (4, tokens, side²) row-major
   */
  static float[] targets(int side, int tokens) {
    List<int[]> regions = new ArrayList<>(); // {row, col, size}
    for (int size = side; size >= 2; size /= 2) {
      for (int r = 0; r < side; r += size) {
        for (int c = 0; c < side; c += size) {
          regions.add(new int[] {r, c, size});
        }
      }
    }
    for (int r = 0; r + 2 <= side; r++) {
      for (int c = 0; c + 2 <= side; c++) {
        if (r % 2 != 0 || c % 2 != 0) {
          regions.add(new int[] {r, c, 2});
        }
      }
    }
    int patches = side * side;
    float[] out = new float[4 * tokens * patches];
    for (int t = 0; t < tokens; t++) {
      int[] region = regions.get(t % regions.size());
      int half = region[2] / 2;
      for (int h = 0; h < 4; h++) {
        int r0 = region[0] + (h / 2) * half;
        int c0 = region[1] + (h % 2) * half;
        float w = 1f / (half * half);
        for (int r = r0; r < r0 + half; r++) {
          for (int c = c0; c < c0 + half; c++) {
            out[(h * tokens + t) * patches + r * side + c] = w;
          }
        }
      }
    }
    return out;
  }

  /**
   * Fits the query side of {@code encoder}'s block to {@link #targets} with {@link #STEPS} Adam
   * steps on the cross-entropy between the targets and the attention.
   *
   * @return the share of the attention inside the targets' quarters after the fit, mean over heads
   *     and tokens
   */
  static float fit(MqtEncoder encoder) {
    MqtConfig config = encoder.config().mqt();
    String why = unsupported(config);
    if (why != null) {
      throw new IllegalArgumentException("train.queryInit: pyramid " + why);
    }
    Map<String, Parameter> querySide = new LinkedHashMap<>();
    encoder
        .parameters()
        .forEach(
            (name, p) -> {
              if (name.equals("mqt.latent_queries")
                  || name.startsWith("mqt.ln_q.")
                  || name.startsWith("mqt.attn.q_proj.")
                  || name.startsWith("mqt.attn.k_proj.")) {
                querySide.put(name, p);
              }
            });
    int side = (int) Math.round(Math.sqrt(config.patches()));
    int tokens = config.maxTokens();
    float[] target = targets(side, tokens);
    Shape shape = new Shape(4, tokens, config.patches());
    NDManager manager = encoder.manager();
    querySide.values().forEach(p -> p.getArray().setRequiresGradient(true));
    // the fit's own arrays (targets, Adam's moments) go when it ends; the weights stay
    try (NDManager fit = manager.newSubManager()) {
      NDArray t = Tensors.create(fit, target, 0, shape); // (H, M, P)
      AdamW adam = new AdamW(querySide, fit, 0.9f, 0.98f, 1e-8f, 0f);
      for (int step = 1; step <= STEPS; step++) {
        try (NDManager scope = fit.newSubManager();
            GradientCollector gc =
                Engine.getEngine(Engines.pytorch().getEngineName()).newGradientCollector()) {
          NDArray logAttention =
              encoder.positionalScores(new ParameterStore(scope, false), scope, true).logSoftmax(2);
          // (a result lands in its left operand's manager: the step's, not the fit's)
          NDArray crossEntropy = Scalars.over(logAttention.mul(t).sum().neg(), 4 * tokens);
          gc.backward(crossEntropy);
          if (step == 1 || step % 100 == 0) {
            log.info(
                "query pyramid {}/{}: cross-entropy {}",
                step,
                STEPS,
                String.format("%.3f", crossEntropy.getFloat()));
          }
        }
        try (NDManager scratch = fit.newSubManager()) {
          Map<String, NDArray> grads = new LinkedHashMap<>();
          querySide.forEach(
              (name, p) -> grads.put(name, AdamW.local(scratch, p.getArray().getGradient())));
          adam.update(grads, LEARNING_RATE, step, scratch);
          grads.values().forEach(Trainer::clear);
        }
      }
      float share;
      try (NDManager scope = fit.newSubManager()) {
        share =
            encoder
                    .positionalScores(new ParameterStore(scope, false), scope, false)
                    .softmax(2)
                    .mul(t.gt(0).toType(DataType.FLOAT32, false))
                    .sum()
                    .getFloat()
                / (4 * tokens);
      }
      log.info(
          "query pyramid: attention inside the regions {} %", String.format("%.1f", 100 * share));
      return share;
    }
  }
}
