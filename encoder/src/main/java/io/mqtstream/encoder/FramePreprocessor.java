package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mqtstream.wire.FrameRecord;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Frame → tensor, kept apart from the model: decodes JPEG (or takes raw RGB), resizes to the
 * model's square input with Java2D's bilinear scaling, and does the per-pixel arithmetic (type
 * conversion, BGR→RGB, normalisation, HWC→CHW) as whole-tensor ops in libtorch. No Java loop per
 * pixel.
 */
public final class FramePreprocessor {
  private final int size;
  private final float[] mean;
  private final float[] std;

  public FramePreprocessor(int size, float[] mean, float[] std) {
    this.size = size;
    this.mean = mean.clone();
    this.std = std.clone();
  }

  public FramePreprocessor(EncoderConfig config) {
    this(config.vision().imageSize(), config.pixelMean(), config.pixelStd());
  }

  /**
   * @return (B, 3, size, size) float32, normalised, in {@code manager}
   * @throws FrameDecodeException naming the frame that cannot be decoded
   */
  public NDArray batch(NDManager manager, List<FrameRecord> frames) {
    return batchDecoded(manager, frames.stream().map(this::bgrPixels).toList());
  }

  /**
   * A batch of frames already decoded by {@link #bgrPixels}: decoding is per frame (and may fail
   * per frame), the model runs per batch.
   *
   * @return (B, 3, size, size) float32, normalised, in {@code manager}
   */
  public NDArray batchDecoded(NDManager manager, List<byte[]> decoded) {
    int pixels = size * size * 3;
    ByteBuffer bgr = ByteBuffer.allocateDirect(decoded.size() * pixels);
    for (byte[] frame : decoded) {
      if (frame.length != pixels) {
        throw new IllegalArgumentException(
            "decoded frame has " + frame.length + " bytes, expected " + pixels);
      }
      bgr.put(frame);
    }
    bgr.flip();
    NDArray raw =
        manager.create(
            bgr, new Shape(decoded.size(), size, size, 3), DataType.UINT8); // (B,H,W,3) BGR
    NDArray m = manager.create(mean); // (3)
    NDArray s = manager.create(std); // (3)
    return raw.toType(DataType.FLOAT32, false)
        .divi(255f)
        .flip(3) // BGR → RGB
        .subi(m)
        .divi(s)
        .transpose(0, 3, 1, 2); // (B, 3, H, W)
  }

  /**
   * The frame's pixels at the model's size, BGR byte order, row-major.
   *
   * @throws FrameDecodeException naming the frame that cannot be decoded
   */
  public byte[] bgrPixels(FrameRecord frame) {
    BufferedImage image = decode(frame, size);
    if (image.getType() != BufferedImage.TYPE_3BYTE_BGR
        || image.getWidth() != size
        || image.getHeight() != size) {
      BufferedImage scaled = new BufferedImage(size, size, BufferedImage.TYPE_3BYTE_BGR);
      Graphics2D g = scaled.createGraphics();
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(image, 0, 0, size, size, null);
      g.dispose();
      image = scaled;
    }
    return ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
  }

  /**
   * The frame's picture, decoded safely (the JPEG header must match the frame's size; a picture
   * much larger than the model's is subsampled while decoded) but not resized: for encoders that
   * resize themselves (CLIP's processor).
   *
   * @throws FrameDecodeException naming the frame that cannot be decoded
   */
  public BufferedImage picture(FrameRecord frame) {
    return decode(frame, size);
  }

  private static BufferedImage decode(FrameRecord frame, int size) {
    return switch (frame.encoding()) {
      case JPEG -> decodeJpeg(frame, size);
      case RAW_RGB -> fromRgb(frame);
    };
  }

  /** One JPEG reader per thread: looking one up per frame costs more than decoding 64×64. */
  private static final ThreadLocal<ImageReader> JPEG =
      ThreadLocal.withInitial(() -> ImageIO.getImageReadersByFormatName("jpeg").next());

  /**
   * Decodes a JPEG without ever holding more than about (2 × model size)² pixels: the header's size
   * must be the frame's declared size (a small payload may claim any size), and a big picture is
   * subsampled while it is decoded instead of decoded whole and then shrunk.
   */
  private static BufferedImage decodeJpeg(FrameRecord frame, int size) {
    ImageReader reader = JPEG.get();
    try (ImageInputStream in =
        new MemoryCacheImageInputStream(new ByteArrayInputStream(frame.payload()))) {
      reader.setInput(in, true, true);
      int width = reader.getWidth(0);
      int height = reader.getHeight(0);
      if (width != frame.width() || height != frame.height()) {
        throw new FrameDecodeException(
            name(frame)
                + ": JPEG is "
                + width
                + "×"
                + height
                + ", the frame says "
                + frame.width()
                + "×"
                + frame.height());
      }
      ImageReadParam param = reader.getDefaultReadParam();
      int step = Math.max(1, Math.min(width, height) / (2 * size));
      param.setSourceSubsampling(step, step, 0, 0);
      BufferedImage image = reader.read(0, param);
      if (image == null) {
        throw new FrameDecodeException(name(frame) + ": payload is not a readable JPEG");
      }
      return image;
    } catch (IOException | RuntimeException e) {
      if (e instanceof FrameDecodeException f) {
        throw f;
      }
      throw new FrameDecodeException(name(frame) + ": corrupt JPEG (" + e.getMessage() + ")", e);
    } finally {
      reader.setInput(null);
    }
  }

  private static BufferedImage fromRgb(FrameRecord frame) {
    BufferedImage image =
        new BufferedImage(frame.width(), frame.height(), BufferedImage.TYPE_3BYTE_BGR);
    byte[] dst = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
    byte[] src = frame.payload();
    for (int i = 0; i < src.length; i += 3) { // RGB → BGR; raw frames are the rare path
      dst[i] = src[i + 2];
      dst[i + 1] = src[i + 1];
      dst[i + 2] = src[i];
    }
    return image;
  }

  private static String name(FrameRecord f) {
    return "frame " + f.cameraId() + "#" + f.sequence();
  }
}
