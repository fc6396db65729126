package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;

/**
 * Turns normalised images into patch features for the MQT. The MQT only sees {@code (B, P, Dv)}, so
 * a CLIP ViT-L/14-336 (P = 576, Dv = 1024) can replace the tiny ViT without touching it.
 */
public interface VisionBackbone extends Block {

  /**
   * @param images (B, 3, H, W), normalised
   * @return patch features (B, P, Dv)
   */
  NDArray features(ParameterStore ps, NDArray images, boolean training);

  /** P, patches per image. */
  int patches();

  /** Dv, width of a patch feature. */
  int featureDim();

  /**
   * Cuts images into flattened patches, as a patch convolution reads them: (B, 3, g·p, g·p) → (B,
   * g², 3·p·p), patches row-major over the grid, each in (channel, row, column) order.
   */
  static NDArray patches(NDArray images, int grid, int patch) {
    long b = images.getShape().get(0);
    return images
        .reshape(b, 3, grid, patch, grid, patch)
        .transpose(0, 2, 4, 1, 3, 5)
        .reshape(b, (long) grid * grid, 3L * patch * patch);
  }
}
