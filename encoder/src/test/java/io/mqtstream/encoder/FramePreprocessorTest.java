package io.mqtstream.encoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mqtstream.nn.Engines;
import io.mqtstream.wire.FrameRecord;
import java.util.List;
import org.junit.jupiter.api.Test;

class FramePreprocessorTest {
  private final FramePreprocessor pre =
      new FramePreprocessor(4, new float[] {0.5f, 0.4f, 0.3f}, new float[] {0.2f, 0.25f, 0.5f});

  private static FrameRecord raw(int w, int h, int r, int g, int b) {
    byte[] rgb = new byte[w * h * 3];
    for (int i = 0; i < rgb.length; i += 3) {
      rgb[i] = (byte) r;
      rgb[i + 1] = (byte) g;
      rgb[i + 2] = (byte) b;
    }
    return new FrameRecord("c", 0, 0, w, h, FrameRecord.Encoding.RAW_RGB, rgb);
  }

  @Test
  void rawRgbBecomesNormalisedChannelsFirstRgbTensors() {
    try (NDManager m = NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      NDArray x = pre.batch(m, List.of(raw(4, 4, 255, 102, 0), raw(4, 4, 0, 0, 255)));
      assertThat(x.getShape()).isEqualTo(new Shape(2, 3, 4, 4));
      float[] v = x.toFloatArray();
      // image 0, channel R, any pixel: (1.0 - 0.5) / 0.2
      assertThat(v[0]).isCloseTo((1.0f - 0.5f) / 0.2f, within(1e-5f));
      // image 0, channel G: (0.4 - 0.4) / 0.25
      assertThat(v[16]).isCloseTo(0f, within(1e-5f));
      // image 0, channel B: (0 - 0.3) / 0.5
      assertThat(v[32]).isCloseTo(-0.6f, within(1e-5f));
      // image 1, channel B: (1 - 0.3) / 0.5
      assertThat(v[48 + 32 + 5]).isCloseTo(1.4f, within(1e-5f));
    }
  }

  @Test
  void resizesAnySizeAndJpegMatchesRawOfTheSamePicture() {
    try (NDManager m = NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      FrameRecord big = raw(40, 30, 10, 200, 90);
      java.awt.image.BufferedImage img =
          new java.awt.image.BufferedImage(40, 30, java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
      java.awt.Graphics2D g = img.createGraphics();
      g.setColor(new java.awt.Color(10, 200, 90));
      g.fillRect(0, 0, 40, 30);
      g.dispose();
      FrameRecord jpeg =
          new FrameRecord(
              "c",
              1,
              0,
              40,
              30,
              FrameRecord.Encoding.JPEG,
              new io.mqtstream.wire.JpegEncoder(0.95f).encode(img));
      NDArray x = pre.batch(m, List.of(big, jpeg));
      assertThat(x.getShape()).isEqualTo(new Shape(2, 3, 4, 4));
      float diff = x.get(0).sub(x.get(1)).abs().max().getFloat();
      assertThat(diff)
          .as("JPEG of a flat colour is within a few levels of the raw")
          .isLessThan(4f / 255 / 0.2f);
    }
  }

  /** A real 64×64 JPEG whose header (SOF0) is rewritten to claim {@code side}×{@code side}. */
  private static byte[] jpegClaiming(int side) {
    java.awt.image.BufferedImage img =
        new java.awt.image.BufferedImage(64, 64, java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
    byte[] jpeg = new io.mqtstream.wire.JpegEncoder(0.9f).encode(img);
    for (int i = 0; i + 8 < jpeg.length; i++) {
      if ((jpeg[i] & 0xFF) == 0xFF && (jpeg[i + 1] & 0xFF) == 0xC0) { // SOF0: len, precision, h, w
        jpeg[i + 5] = (byte) (side >> 8);
        jpeg[i + 6] = (byte) side;
        jpeg[i + 7] = (byte) (side >> 8);
        jpeg[i + 8] = (byte) side;
        return jpeg;
      }
    }
    throw new AssertionError("no SOF0 marker");
  }

  @Test
  void aJpegWhoseSizeIsNotTheFramesFailsBeforeDecoding() {
    FrameRecord liar =
        new FrameRecord("cam-2", 5, 0, 64, 64, FrameRecord.Encoding.JPEG, jpegClaiming(16_000));
    assertThatThrownBy(() -> pre.bgrPixels(liar))
        .isInstanceOf(FrameDecodeException.class)
        .hasMessageContaining("cam-2#5")
        .hasMessageContaining("16000×16000")
        .hasMessageContaining("64×64");
  }

  @Test
  void aHugeFrameIsDecodedSubsampledNotWhole() {
    FrameRecord huge =
        new FrameRecord(
            "cam-3", 1, 0, 16_384, 16_384, FrameRecord.Encoding.JPEG, jpegClaiming(16_384));
    var threads =
        (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    byte[] pixels;
    try {
      pixels = pre.bgrPixels(huge);
    } catch (FrameDecodeException e) {
      pixels = null; // its data ends early: a dead letter, also fine
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    // decoded whole, the raster alone would be 16,384² × 3 bytes = 805 MB
    assertThat(allocated).as("bytes allocated decoding it").isLessThan(64L << 20);
    if (pixels != null) { // at the model's size, like any frame
      FrameRecord small =
          new FrameRecord("cam-3", 2, 0, 64, 64, FrameRecord.Encoding.JPEG, jpegClaiming(64));
      assertThat(pixels).hasSameSizeAs(pre.bgrPixels(small));
    }
  }

  @Test
  void corruptJpegFailsNamingTheFrame() {
    try (NDManager m = NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      FrameRecord bad =
          new FrameRecord(
              "cam-9", 77, 0, 64, 64, FrameRecord.Encoding.JPEG, new byte[] {1, 2, 3, 4});
      assertThatThrownBy(() -> pre.batch(m, List.of(bad)))
          .isInstanceOf(FrameDecodeException.class)
          .hasMessageContaining("cam-9#77");
    }
  }
}
