package io.mqtstream.encoder;

/**
 * Shape of the vision backbone.
 *
 * @param imageSize side of the square input image, pixels
 * @param patchSize side of a patch; divides imageSize
 * @param dim width Dv of the patch features
 * @param layers transformer layers
 * @param heads attention heads; divide dim
 * @param mlpRatio hidden width of the MLP over dim
 */
public record VitConfig(
    int imageSize, int patchSize, int dim, int layers, int heads, int mlpRatio) {
  public VitConfig {
    positive("vision.imageSize", imageSize);
    positive("vision.patchSize", patchSize);
    positive("vision.dim", dim);
    positive("vision.layers", layers);
    positive("vision.heads", heads);
    positive("vision.mlpRatio", mlpRatio);
    if (imageSize % patchSize != 0) {
      throw new IllegalArgumentException("vision.patchSize: must divide imageSize " + imageSize);
    }
    if (dim % heads != 0) {
      throw new IllegalArgumentException("vision.heads: must divide dim " + dim);
    }
    if (dim % 4 != 0) {
      throw new IllegalArgumentException("vision.dim: must be a multiple of 4, got " + dim);
    }
  }

  /** Patches per side. */
  public int grid() {
    return imageSize / patchSize;
  }

  /** Patches per image, P. */
  public int patches() {
    return grid() * grid();
  }

  static void positive(String key, int v) {
    if (v < 1) {
      throw new IllegalArgumentException(key + ": must be >= 1, got " + v);
    }
  }
}
