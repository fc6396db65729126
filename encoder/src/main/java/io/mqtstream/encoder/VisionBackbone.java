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
}
