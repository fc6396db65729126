package io.mqtstream.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import java.util.Map;

/** RMSNorm (LLaMA): x / sqrt(mean(x²) + ε) · γ over the last axis. */
public final class RmsNorm extends ModelBlock {
  private static final float EPS = 1e-6f;
  private final Parameter gamma;
  private final float eps;

  /** RMSNorm with ε = 1e-6. */
  public RmsNorm(int dim) {
    this(dim, EPS);
  }

  /** RMSNorm with the given ε (LLaMA's {@code rms_norm_eps}). */
  public RmsNorm(int dim, float eps) {
    this.eps = eps;
    gamma =
        addParameter(
            Parameter.builder()
                .setName("weight")
                .setType(Parameter.Type.GAMMA)
                .optShape(new Shape(dim))
                .optInitializer(Initializer.ONES)
                .build());
  }

  /** (..., D) → (..., D). */
  public NDArray apply(ParameterStore ps, NDArray x, boolean training) {
    DataType type = x.getDataType();
    if (type != DataType.FLOAT32) { // as LLaMA: normalised in fp32, then back to the model's type
      NDArray x32 = x.toType(DataType.FLOAT32, false);
      NDArray rms = x32.square().mean(new int[] {-1}, true).add(eps).sqrt();
      return x32.div(rms).toType(type, false).mul(ps.getValue(gamma, x.getDevice(), training));
    }
    NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
    return x.div(rms).mul(ps.getValue(gamma, x.getDevice(), training));
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    out.put(prefix + ".weight", gamma);
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(apply(ps, inputs.singletonOrThrow(), training));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return inputShapes;
  }
}
