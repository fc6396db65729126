package io.mqtstream.app.bench;

import ai.djl.ndarray.NDManager;
import io.mqtstream.encoder.EncoderConfig;
import io.mqtstream.encoder.Flops;
import io.mqtstream.encoder.MqtConfig;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.JpegEncoder;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;

/**
 * Frames per second of {@link MqtEncoder#encode} (JPEG decode, resize, backbone, MQT at M) at
 * several batch sizes, and the cost of {@link VisualTokens#tokens(int)}: the view itself, and the
 * view turned into a tensor.
 */
public final class EncoderBench {
  private final Path checkpoint;
  private final int[] batches;
  private final double secondsPerPoint;

  public EncoderBench(Path checkpoint, int[] batches, double secondsPerPoint) {
    this.checkpoint = checkpoint;
    this.batches = batches;
    this.secondsPerPoint = secondsPerPoint;
  }

  public String run() throws Exception {
    try (MqtEncoder encoder = open()) {
      EncoderConfig c = encoder.config();
      int size = c.vision().imageSize();
      Map<Integer, Double> fps = new LinkedHashMap<>();
      for (int b : batches) {
        List<FrameRecord> frames = frames(b, size);
        for (int i = 0; i < 3; i++) {
          encoder.encode(frames);
        }
        long start = System.nanoTime();
        long n = 0;
        while (System.nanoTime() - start < secondsPerPoint * 1e9) {
          n += encoder.encode(frames).size();
        }
        fps.put(b, n / ((System.nanoTime() - start) / 1e9));
        System.err.printf(Locale.ROOT, "bench encoder: batch %d: %.0f frames/s%n", b, fps.get(b));
      }
      VisualTokens tokens = encoder.encode(frames(1, size)).get(0);
      int max = c.mqt().maxTokens();
      double viewTwo = viewNanos(tokens, 2);
      double viewMax = viewNanos(tokens, max);
      double tensorTwo = tensorNanos(encoder, tokens, 2);
      double tensorMax = tensorNanos(encoder, tokens, max);
      double gflop = Flops.encoder(c, max) / 1e9;
      double best = fps.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
      return String.format(
          Locale.ROOT,
          "{\"preset\":\"%s\",\"weights\":\"%s\",\"encode_fps\":{%s},\"gflop_per_frame\":%.4f,"
              + "\"best_gflops\":%.2f,\"tokens_view_ns\":{\"2\":%.0f,\"%d\":%.0f},"
              + "\"tokens_tensor_us\":{\"2\":%.1f,\"%d\":%.1f}}",
          c.preset(),
          trained() ? checkpoint : "random",
          fps.entrySet().stream()
              .map(e -> String.format(Locale.ROOT, "\"%d\":%.0f", e.getKey(), e.getValue()))
              .collect(Collectors.joining(",")),
          gflop,
          gflop * best,
          viewTwo,
          max,
          viewMax,
          tensorTwo / 1e3,
          max,
          tensorMax / 1e3);
    }
  }

  /** A checkpoint folder (encoder/ and llm/, as training writes them) is there. */
  private boolean trained() {
    return checkpoint != null
        && Files.isRegularFile(checkpoint.resolve("encoder").resolve(MqtEncoder.WEIGHTS_FILE));
  }

  private MqtEncoder open() throws Exception {
    if (trained()) {
      return MqtEncoder.load(checkpoint.resolve("encoder"));
    }
    return MqtEncoder.create(EncoderConfig.tiny(MqtConfig.KeyMode.POSITIONAL, true), 1);
  }

  private static double viewNanos(VisualTokens tokens, int m) {
    int n = 1_000_000;
    long sink = 0;
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      sink += tokens.tokens(m).count();
    }
    long t = System.nanoTime() - start;
    if (sink == 42) {
      System.err.print("");
    }
    return (double) t / n;
  }

  private static double tensorNanos(MqtEncoder encoder, VisualTokens tokens, int m) {
    int n = 20_000;
    long start = System.nanoTime();
    try (NDManager scope = encoder.manager().newSubManager()) {
      for (int i = 0; i < n; i++) {
        tokens.tokens(m).toNDArray(scope).close();
      }
    }
    return (double) (System.nanoTime() - start) / n;
  }

  private static List<FrameRecord> frames(int n, int size) {
    Random r = new Random(n);
    JpegEncoder jpeg = new JpegEncoder(0.85f);
    List<FrameRecord> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_3BYTE_BGR);
      Graphics2D g = img.createGraphics();
      g.setColor(new Color(r.nextInt(0xFFFFFF)));
      g.fillRect(0, 0, size, size);
      g.setColor(new Color(r.nextInt(0xFFFFFF)));
      g.fillOval(r.nextInt(size / 2), r.nextInt(size / 2), size / 3, size / 3);
      g.dispose();
      out.add(
          new FrameRecord("bench", i, i, size, size, FrameRecord.Encoding.JPEG, jpeg.encode(img)));
    }
    return out;
  }
}
