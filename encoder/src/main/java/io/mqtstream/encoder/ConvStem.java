package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.util.PairList;
import io.mqtstream.nn.ModelBlock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A convolutional patch embedding ("Early convolutions help transformers see better", Xiao et al.
 * 2021): log₂(patch) 3×3 convolutions of stride 2 with GELU between them, widths doubling up to the
 * ViT's, in place of one linear map per patch. It keeps the ViT's grid (one feature per patch) but
 * lets each feature see edges and corners across patch borders, which a linear embedding of an 8×8
 * patch does not.
 */
final class ConvStem extends ModelBlock {
  private final List<Parameter> weights = new ArrayList<>();
  private final List<Parameter> biases = new ArrayList<>();
  private final int patch;
  private final int dim;

  /**
   * @param patch the patch side, a power of two
   * @param dim the output width
   */
  ConvStem(int patch, int dim) {
    this.patch = patch;
    this.dim = dim;
    int in = 3;
    for (int out : widths(patch, dim)) {
      int k = weights.size() + 1;
      weights.add(
          addParameter(
              Parameter.builder()
                  .setName("weight" + k)
                  .setType(Parameter.Type.WEIGHT)
                  .optShape(new Shape(out, in, 3, 3))
                  .optInitializer(new XavierInitializer())
                  .build()));
      biases.add(
          addParameter(
              Parameter.builder()
                  .setName("bias" + k)
                  .setType(Parameter.Type.BIAS)
                  .optShape(new Shape(out))
                  .optInitializer(Initializer.ZEROS)
                  .build()));
      in = out;
    }
  }

  /** The output width of each convolution: log₂(patch) of them, doubling up to {@code dim}. */
  static int[] widths(int patch, int dim) {
    int convs = Integer.numberOfTrailingZeros(patch);
    int[] widths = new int[convs];
    for (int k = 1; k <= convs; k++) {
      widths[k - 1] = dim >> (convs - k);
    }
    return widths;
  }

  /**
   * @param images (B, 3, H, W)
   * @return (B, P, dim), patches row-major over the grid
   */
  NDArray apply(ParameterStore ps, NDArray images, boolean training) {
    NDArray x = images;
    Shape two = new Shape(2, 2);
    Shape one = new Shape(1, 1);
    for (int k = 0; k < weights.size(); k++) {
      if (k > 0) {
        x = Activation.gelu(x);
      }
      NDArray w = ps.getValue(weights.get(k), x.getDevice(), training);
      NDArray b = ps.getValue(biases.get(k), x.getDevice(), training);
      x = Conv2d.conv2d(x, w, b, two, one).singletonOrThrow(); // (B, C_k, H/2^k, W/2^k)
    }
    Shape s = x.getShape(); // (B, dim, g, g)
    return x.reshape(s.get(0), s.get(1), s.get(2) * s.get(3)).transpose(0, 2, 1); // (B, P, dim)
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    for (int k = 0; k < weights.size(); k++) {
      out.put(prefix + "." + k + ".weight", weights.get(k));
      out.put(prefix + "." + k + ".bias", biases.get(k));
    }
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(apply(ps, inputs.singletonOrThrow(), training));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    Shape s = inputShapes[0]; // (B, 3, H, W)
    return new Shape[] {new Shape(s.get(0), (s.get(2) / patch) * (s.get(3) / patch), dim)};
  }
}
