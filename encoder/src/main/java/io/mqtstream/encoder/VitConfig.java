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
 * @param stem how patches become features: {@link Stem#LINEAR} (one linear map per patch, as
 *     mqt-tiny v2 and CLIP have; checkpoints without the key) or {@link Stem#CONV} ({@link
 *     ConvStem}: 3×3 stride-2 convolutions; needs a power-of-two patchSize)
 */
public record VitConfig(
    int imageSize, int patchSize, int dim, int layers, int heads, int mlpRatio, Stem stem) {

  /** The patch embedding of the backbone. */
  public enum Stem {
    LINEAR,
    CONV
  }

  /** A backbone with the linear patch embedding. */
  public VitConfig(int imageSize, int patchSize, int dim, int layers, int heads, int mlpRatio) {
    this(imageSize, patchSize, dim, layers, heads, mlpRatio, Stem.LINEAR);
  }

  public VitConfig {
    stem = stem == null ? Stem.LINEAR : stem;
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
    if (stem == Stem.CONV
        && (Integer.bitCount(patchSize) != 1
            || patchSize < 2
            || dim >> Integer.numberOfTrailingZeros(patchSize) < 1)) {
      throw new IllegalArgumentException(
          "vision.stem: conv needs a power-of-two patchSize >= 2 and dim >= patchSize, got "
              + patchSize);
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
