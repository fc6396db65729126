package io.mqtstream.reasoner;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Norm;
import io.mqtstream.nn.RmsNorm;
import java.util.Map;

/** The configured normalisation: LayerNorm or RMSNorm behind one call. */
final class NormLayer {
  private final Norm layerNorm;
  private final RmsNorm rmsNorm;

  private NormLayer(Norm layerNorm, RmsNorm rmsNorm) {
    this.layerNorm = layerNorm;
    this.rmsNorm = rmsNorm;
  }

  static NormLayer of(LmConfig.Norm kind, int dim, float eps) {
    if (kind == LmConfig.Norm.RMS) {
      return new NormLayer(null, eps == 0 ? new RmsNorm(dim) : new RmsNorm(dim, eps));
    }
    return new NormLayer(eps == 0 ? new Norm(dim) : new Norm(dim, eps), null);
  }

  ModelBlock block() {
    return layerNorm != null ? layerNorm : rmsNorm;
  }

  NDArray apply(ParameterStore ps, NDArray x, boolean training) {
    return layerNorm != null ? layerNorm.apply(ps, x, training) : rmsNorm.apply(ps, x, training);
  }

  void collect(String prefix, Map<String, Parameter> out) {
    block().collect(prefix, out);
  }
}
