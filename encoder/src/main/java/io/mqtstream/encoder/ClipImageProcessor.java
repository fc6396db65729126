package io.mqtstream.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What LLaVA does to a picture before the CLIP tower, read from the tower's {@code
 * preprocessor_config.json} (Hugging Face {@code CLIPImageProcessor}): with LLaVA's {@code
 * image_aspect_ratio: pad}, pad to a square with the mean colour (the picture centred), then resize
 * the shortest edge with Pillow's bicubic filter (reproduced here: antialiased, two passes over
 * 8-bit pixels, the same fixed-point rounding), centre-crop, rescale to [0, 1] and normalise by the
 * mean and standard deviation. The output is (3, S, S) floats in channel-first order.
 */
public final class ClipImageProcessor {
  private static final int PRECISION_BITS = 32 - 8 - 2; // Pillow's 8-bit resampling precision

  private final int shortestEdge;
  private final int cropHeight;
  private final int cropWidth;
  private final float rescale;
  private final float[] mean;
  private final float[] std;
  private final boolean pad;

  /**
   * @param shortestEdge {@code size.shortest_edge}
   * @param cropHeight {@code crop_size.height}
   * @param cropWidth {@code crop_size.width}
   * @param rescale {@code rescale_factor} (1/255)
   * @param mean {@code image_mean}, RGB
   * @param std {@code image_std}, RGB
   * @param pad LLaVA's {@code image_aspect_ratio == "pad"}
   */
  public ClipImageProcessor(
      int shortestEdge,
      int cropHeight,
      int cropWidth,
      float rescale,
      float[] mean,
      float[] std,
      boolean pad) {
    this.shortestEdge = shortestEdge;
    this.cropHeight = cropHeight;
    this.cropWidth = cropWidth;
    this.rescale = rescale;
    this.mean = mean.clone();
    this.std = std.clone();
    this.pad = pad;
  }

  /** Reads {@code preprocessor_config.json}; {@code pad} is LLaVA's {@code image_aspect_ratio}. */
  public static ClipImageProcessor read(Path json, boolean pad) throws IOException {
    JsonNode c = new ObjectMapper().readTree(Files.readAllBytes(json));
    JsonNode size = c.path("size");
    int edge = size.isInt() ? size.asInt() : size.path("shortest_edge").asInt(0);
    JsonNode crop = c.path("crop_size");
    int ch = crop.isInt() ? crop.asInt() : crop.path("height").asInt(0);
    int cw = crop.isInt() ? crop.asInt() : crop.path("width").asInt(0);
    if (edge < 1 || ch < 1 || cw < 1) {
      throw new IOException(json + ": needs size.shortest_edge and crop_size");
    }
    int resample = c.path("resample").asInt(3);
    if (resample != 3) {
      throw new IOException(json + ": resample " + resample + " (only 3, bicubic, is supported)");
    }
    return new ClipImageProcessor(
        edge,
        ch,
        cw,
        (float) c.path("rescale_factor").asDouble(1 / 255.0),
        floats(c.path("image_mean"), json),
        floats(c.path("image_std"), json),
        pad);
  }

  private static float[] floats(JsonNode a, Path json) throws IOException {
    if (!a.isArray() || a.size() != 3) {
      throw new IOException(json + ": image_mean and image_std need 3 values");
    }
    return new float[] {
      (float) a.get(0).asDouble(), (float) a.get(1).asDouble(), (float) a.get(2).asDouble()
    };
  }

  /** The picture as the tower takes it: (3, cropHeight, cropWidth), channel-first. */
  public float[] pixels(BufferedImage image) {
    int w = image.getWidth();
    int h = image.getHeight();
    int[] rgb = image.getRGB(0, 0, w, h, null, 0, w); // packed 0xAARRGGBB, row-major
    if (pad && w != h) {
      int side = Math.max(w, h);
      int background = 0;
      for (int c = 0; c < 3; c++) {
        background = background << 8 | (int) (mean[c] * 255); // int(x * 255), as LLaVA
      }
      int[] square = new int[side * side];
      java.util.Arrays.fill(square, background);
      int top = w > h ? (w - h) / 2 : 0;
      int left = w > h ? 0 : (h - w) / 2;
      for (int y = 0; y < h; y++) {
        System.arraycopy(rgb, y * w, square, (y + top) * side + left, w);
      }
      rgb = square;
      w = side;
      h = side;
    }
    int outW;
    int outH;
    if (w <= h) {
      outW = shortestEdge;
      outH = (int) ((long) shortestEdge * h / w);
    } else {
      outH = shortestEdge;
      outW = (int) ((long) shortestEdge * w / h);
    }
    int[][] channels = new int[3][w * h];
    for (int i = 0; i < rgb.length; i++) {
      channels[0][i] = rgb[i] >> 16 & 0xFF;
      channels[1][i] = rgb[i] >> 8 & 0xFF;
      channels[2][i] = rgb[i] & 0xFF;
    }
    channels = resize(channels, w, h, outW, outH);
    int top = (outH - cropHeight) / 2;
    int left = (outW - cropWidth) / 2;
    float[] out = new float[3 * cropHeight * cropWidth];
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < cropHeight; y++) {
        for (int x = 0; x < cropWidth; x++) {
          int sy = y + top;
          int sx = x + left;
          float v = sy < 0 || sx < 0 || sy >= outH || sx >= outW ? 0 : channels[c][sy * outW + sx];
          out[(c * cropHeight + y) * cropWidth + x] = (v * rescale - mean[c]) / std[c];
        }
      }
    }
    return out;
  }

  /**
   * Pillow's {@code Image.resize(size, BICUBIC)} on 8-bit planes of one picture: horizontal, then
   * vertical, each pass's coefficients computed once for all planes.
   */
  int[][] resize(int[][] planes, int w, int h, int outW, int outH) {
    int[][] out = planes;
    if (w != outW) {
      Coefficients k = lastX = cached(lastX, w, outW);
      int[][] next = new int[out.length][];
      for (int c = 0; c < out.length; c++) {
        next[c] = k.apply(out[c], w, h, true);
      }
      out = next;
    }
    if (h != outH) {
      Coefficients k = lastY = cached(lastY, h, outH);
      int[][] next = new int[out.length][];
      for (int c = 0; c < out.length; c++) {
        next[c] = k.apply(out[c], outW, h, false);
      }
      out = next;
    }
    return out;
  }

  /** The last coefficients of each pass: a camera's frames all have one size. */
  private volatile Coefficients lastX;

  private volatile Coefficients lastY;

  private static Coefficients cached(Coefficients last, int inSize, int outSize) {
    return last != null && last.inSize() == inSize && last.outSize() == outSize
        ? last
        : Coefficients.of(inSize, outSize);
  }

  /** Pillow's fixed-point bicubic weights of one resampling pass, inSize → outSize. */
  private record Coefficients(int inSize, int outSize, int[] bounds, int[][] kernels) {
    static Coefficients of(int inSize, int out) {
      double scale = (double) inSize / out;
      double filterScale = Math.max(scale, 1.0);
      double support = 2.0 * filterScale; // bicubic support 2
      int kSize = (int) Math.ceil(support) * 2 + 1;
      int[] bounds = new int[out * 2];
      int[][] kernels = new int[out][kSize];
      for (int o = 0; o < out; o++) {
        double center = (o + 0.5) * scale;
        int min = Math.max((int) (center - support + 0.5), 0);
        int count = Math.min((int) (center + support + 0.5), inSize) - min;
        double[] k = new double[count];
        double sum = 0;
        for (int i = 0; i < count; i++) {
          k[i] = bicubic((i + min - center + 0.5) / filterScale);
          sum += k[i];
        }
        for (int i = 0; i < count; i++) {
          double v = sum == 0 ? 0 : k[i] / sum;
          kernels[o][i] =
              (int) (v < 0 ? v * (1 << PRECISION_BITS) - 0.5 : v * (1 << PRECISION_BITS) + 0.5);
        }
        bounds[2 * o] = min;
        bounds[2 * o + 1] = count;
      }
      return new Coefficients(inSize, out, bounds, kernels);
    }

    /** One pass over a w × h plane, along x (horizontal) or y. */
    int[] apply(int[] in, int w, int h, boolean alongX) {
      int outW = alongX ? outSize : w;
      int outH = alongX ? h : outSize;
      int[] result = new int[outW * outH];
      for (int y = 0; y < outH; y++) {
        for (int x = 0; x < outW; x++) {
          int o = alongX ? x : y;
          int min = bounds[2 * o];
          int count = bounds[2 * o + 1];
          long acc = 1L << (PRECISION_BITS - 1);
          for (int i = 0; i < count; i++) {
            int src = alongX ? in[y * w + min + i] : in[(min + i) * w + x];
            acc += (long) src * kernels[o][i];
          }
          result[y * outW + x] = Math.max(0, Math.min(255, (int) (acc >> PRECISION_BITS)));
        }
      }
      return result;
    }
  }

  private static double bicubic(double x) {
    double a = -0.5;
    x = Math.abs(x);
    if (x < 1) {
      return ((a + 2) * x - (a + 3)) * x * x + 1;
    }
    if (x < 2) {
      return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0;
  }
}
