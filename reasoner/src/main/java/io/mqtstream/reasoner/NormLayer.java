package io.mqtstream.reasoner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Norm;
import io.mqtstream.nn.RmsNorm;
import java.util.Map;

/**
 * The configured normalisation: LayerNorm or RMSNorm behind one call, with, for switchable norms
 * ({@link LmConfig#normBudgets()}), a gain per budget set: a row whose budget falls in set s is
 * scaled by 1 + {@code budget_weight[s]} after the shared norm. The gains start at zero, so a model
 * given switchable norms answers as it did until training moves them.
 */
final class NormLayer {
  /** The per-budget gains' name under the norm's prefix. */
  static final String BUDGET_WEIGHT = "budget_weight";

  private final Norm layerNorm;
  private final RmsNorm rmsNorm;
  private final Parameter budgetGain; // (sets, D), or null

  private NormLayer(Norm layerNorm, RmsNorm rmsNorm, Parameter budgetGain) {
    this.layerNorm = layerNorm;
    this.rmsNorm = rmsNorm;
    this.budgetGain = budgetGain;
  }

  static NormLayer of(LmConfig.Norm kind, int dim, float eps) {
    return of(kind, dim, eps, 0, null);
  }

  /**
   * A norm with {@code sets} per-budget gains (0 = none), a parameter named {@code name} that the
   * owning block registers ({@link #budgetGain}).
   */
  static NormLayer of(LmConfig.Norm kind, int dim, float eps, int sets, String name) {
    Parameter gain =
        sets == 0
            ? null
            : Parameter.builder()
                .setName(name)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(sets, dim))
                .optInitializer(Initializer.ZEROS)
                .build();
    if (kind == LmConfig.Norm.RMS) {
      return new NormLayer(null, eps == 0 ? new RmsNorm(dim) : new RmsNorm(dim, eps), gain);
    }
    return new NormLayer(eps == 0 ? new Norm(dim) : new Norm(dim, eps), null, gain);
  }

  ModelBlock block() {
    return layerNorm != null ? layerNorm : rmsNorm;
  }

  /** The per-budget gains, for the block that owns this norm to register; null without. */
  Parameter budgetGain() {
    return budgetGain;
  }

  /**
   * @param x (B, L, D)
   * @param sets (B) int64, each row's budget set, or null: the shared norm alone
   * @return (B, L, D)
   */
  NDArray apply(ParameterStore ps, NDArray x, NDArray sets, boolean training) {
    NDArray normed =
        layerNorm != null ? layerNorm.apply(ps, x, training) : rmsNorm.apply(ps, x, training);
    if (budgetGain == null || sets == null) {
      return normed;
    }
    NDArray gains = ps.getValue(budgetGain, x.getDevice(), training); // (sets, D)
    NDArray rows = gains.get(new NDIndex("{}", sets)); // (B, D), made in the model's manager
    rows.attach(x.getManager()); // so it dies with the pass, as the token embeddings do
    return normed.mul(rows.add(1f).expandDims(1)); // normed · (1 + gain), (B, L, D)
  }

  NDArray apply(ParameterStore ps, NDArray x, boolean training) {
    return apply(ps, x, null, training);
  }

  void collect(String prefix, Map<String, Parameter> out) {
    block().collect(prefix, out);
    if (budgetGain != null) {
      out.put(prefix + "." + BUDGET_WEIGHT, budgetGain);
    }
  }
}
