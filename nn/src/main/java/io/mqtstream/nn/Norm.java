package io.mqtstream.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;

/** LayerNorm over the last axis, with parameters {@code weight} (γ) and {@code bias} (β). */
public final class Norm extends ModelBlock {
  private static final float EPS = 1e-5f;
  public final Parameter gamma;
  public final Parameter beta;
  private final int dim;
  private final float eps;

  /** LayerNorm with ε = 1e-5 (PyTorch's default). */
  public Norm(int dim) {
    this(dim, EPS);
  }

  /** LayerNorm with the given ε (the MQT reference uses 1e-6). */
  public Norm(int dim, float eps) {
    this.dim = dim;
    this.eps = eps;
    gamma =
        addParameter(
            Parameter.builder()
                .setName("weight")
                .setType(Parameter.Type.GAMMA)
                .optShape(new Shape(dim))
                .optInitializer(Initializer.ONES)
                .build());
    beta =
        addParameter(
            Parameter.builder()
                .setName("bias")
                .setType(Parameter.Type.BETA)
                .optShape(new Shape(dim))
                .optInitializer(Initializer.ZEROS)
                .build());
  }

  /** (..., dim) → (..., dim). */
  public NDArray apply(ParameterStore ps, NDArray x, boolean training) {
    return LayerNorm.layerNorm(
            x,
            new Shape(dim),
            ps.getValue(gamma, x.getDevice(), training),
            ps.getValue(beta, x.getDevice(), training),
            eps)
        .singletonOrThrow();
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(apply(ps, inputs.singletonOrThrow(), training));
  }

  @Override
  public void collect(String prefix, java.util.Map<String, Parameter> out) {
    out.put(prefix + ".weight", gamma);
    out.put(prefix + ".bias", beta);
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return inputShapes;
  }
}
