package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mqtstream.nn.Engines;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.JpegEncoder;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Tiny models and generated frames for the encoder's tests. */
final class MqtTestSupport {
  private MqtTestSupport() {}

  static MatryoshkaQueryTransformer initialized(NDManager manager, MqtConfig c) {
    Engines.pytorch().setRandomSeed(11);
    MatryoshkaQueryTransformer mqt = new MatryoshkaQueryTransformer(c);
    mqt.initialize(manager, DataType.FLOAT32, new Shape(1, c.patches(), c.featureDim()));
    return mqt;
  }

  static NDArray randomFeatures(NDManager manager, int batch, MqtConfig c) {
    return manager.randomNormal(new Shape(batch, c.patches(), c.featureDim()));
  }

  /** JPEG frames of coloured discs at random places, 64×64 or any size. */
  static List<FrameRecord> frames(int n, int size, long seed) {
    Random r = new Random(seed);
    JpegEncoder jpeg = new JpegEncoder(0.9f);
    List<FrameRecord> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_3BYTE_BGR);
      Graphics2D g = img.createGraphics();
      g.setColor(new Color(r.nextInt(256), r.nextInt(256), r.nextInt(256)));
      g.fillRect(0, 0, size, size);
      g.setColor(new Color(r.nextInt(256), r.nextInt(256), r.nextInt(256)));
      g.fillOval(r.nextInt(size / 2), r.nextInt(size / 2), size / 3, size / 3);
      g.dispose();
      out.add(
          new FrameRecord("cam", i, i, size, size, FrameRecord.Encoding.JPEG, jpeg.encode(img)));
    }
    return out;
  }
}
