package io.mqtstream.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.util.PairList;

/**
 * A linear layer {@code y = x Wᵀ + b} with fixed input and output widths, so its parameters have
 * shapes from construction (no shape inference) and stable names ({@code weight}, {@code bias}).
 */
public final class Dense extends ModelBlock {
  public final Parameter weight;
  public final Parameter bias;
  private final int in;
  private final int out;

  public Dense(int in, int out, boolean withBias) {
    this.in = in;
    this.out = out;
    weight =
        addParameter(
            Parameter.builder()
                .setName("weight")
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(out, in))
                .optInitializer(new XavierInitializer())
                .build());
    bias =
        withBias
            ? addParameter(
                Parameter.builder()
                    .setName("bias")
                    .setType(Parameter.Type.BIAS)
                    .optShape(new Shape(out))
                    .optInitializer(Initializer.ZEROS)
                    .build())
            : null;
  }

  /** (..., in) → (..., out). */
  public NDArray apply(ParameterStore ps, NDArray x, boolean training) {
    NDArray w = ps.getValue(weight, x.getDevice(), training);
    NDArray b = bias == null ? null : ps.getValue(bias, x.getDevice(), training);
    return (b == null ? Linear.linear(x, w) : Linear.linear(x, w, b)).singletonOrThrow();
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(apply(ps, inputs.singletonOrThrow(), training));
  }

  @Override
  public void collect(String prefix, java.util.Map<String, Parameter> out) {
    out.put(prefix + ".weight", weight);
    if (bias != null) {
      out.put(prefix + ".bias", bias);
    }
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    Shape s = inputShapes[0];
    return new Shape[] {s.slice(0, s.dimension() - 1).add(out)};
  }
}
