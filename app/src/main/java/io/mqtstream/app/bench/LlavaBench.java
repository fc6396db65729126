package io.mqtstream.app.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.llava.MqtLlava;
import io.mqtstream.reasoner.DecoderLm;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Speed of an MQT-LLaVA model (a real checkpoint, or a preset's shapes with random weights): the
 * encoder's frames/s (CLIP tower to the selected layer plus the MQT at M, encode once) per batch,
 * and the language model's prefill positions/s and decode tokens/s per m and batch, for prompts of
 * {@value #TEXT} text positions plus m visual tokens.
 */
public final class LlavaBench {
  /** Text positions of a benchmark prompt: about the Vicuna template with a short question. */
  static final int TEXT = 48;

  /** Decode steps measured after each prefill. */
  static final int STEPS = 16;

  private final MqtLlava model;
  private final int[] batches;
  private final int[] ms;
  private final double secondsPerPoint;

  public LlavaBench(MqtLlava model, int[] batches, int[] ms, double secondsPerPoint) {
    this.model = model;
    this.batches = batches;
    this.ms = ms;
    this.secondsPerPoint = secondsPerPoint;
  }

  /**
   * One JSON line: {"encoder_fps": {batch: fps}, "prefill_pos_per_s": …, "decode_tok_per_s": …}.
   */
  public String run() throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    Map<String, Double> encoder = new LinkedHashMap<>();
    int s = model.visionConfig().imageSize();
    for (int b : batches) {
      double fps =
          rate(
              () -> {
                try (NDManager scope = model.newScope()) {
                  NDArray pixels = scope.randomNormal(new Shape(b, 3, s, s));
                  model.visualTokens(model.features(pixels), model.maxTokens()).toFloatArray();
                }
                return b;
              });
      encoder.put(Integer.toString(b), round(fps));
      System.err.printf(Locale.ROOT, "bench llava: encoder batch %d: %.3f frames/s%n", b, fps);
    }
    out.put("encoder_fps", encoder);
    Map<String, Object> prefill = new LinkedHashMap<>();
    Map<String, Object> decode = new LinkedHashMap<>();
    for (int m : ms) {
      if (m > model.maxTokens()) {
        continue;
      }
      Map<String, Double> p = new LinkedHashMap<>();
      Map<String, Double> d = new LinkedHashMap<>();
      for (int b : batches) {
        double[] r = prefillAndDecode(b, TEXT + m);
        p.put(Integer.toString(b), round(r[0]));
        d.put(Integer.toString(b), round(r[1]));
        System.err.printf(
            Locale.ROOT,
            "bench llava: m %d batch %d: prefill %.1f positions/s, decode %.2f tokens/s%n",
            m,
            b,
            r[0],
            r[1]);
      }
      prefill.put(Integer.toString(m), p);
      decode.put(Integer.toString(m), d);
    }
    out.put("prefill_pos_per_s", prefill);
    out.put("decode_tok_per_s", decode);
    out.put("text_positions", TEXT);
    out.put("decode_steps", STEPS);
    return new ObjectMapper().writeValueAsString(out);
  }

  /** {prefill positions/s, decode tokens/s} for B rows of L positions, then STEPS tokens each. */
  private double[] prefillAndDecode(int b, int l) {
    DecoderLm lm = model.languageModel();
    int dim = lm.config().dim();
    long prefillNanos = 0;
    long decodeNanos = 0;
    long rounds = 0;
    long start = System.nanoTime();
    while (rounds < 2 || System.nanoTime() - start < secondsPerPoint * 1e9) {
      try (NDManager scope = model.newScope()) {
        ParameterStore ps = new ParameterStore(scope, false);
        NDArray x =
            scope.randomNormal(new Shape(b, l, dim)).muli(0.02f).toType(model.dtype(), false);
        long t0 = System.nanoTime();
        DecoderLm.Forward f =
            lm.forward(ps, x, positions(b, 0, l), new float[b][l], null, true, false);
        f.logits().toFloatArray(); // waits for the device
        long t1 = System.nanoTime();
        for (int step = 0; step < STEPS; step++) {
          NDArray next = f.logits().argMax(2); // (B, 1)
          long[] ids = next.toLongArray();
          long[][] rows = new long[b][1];
          for (int r = 0; r < b; r++) {
            rows[r][0] = ids[r];
          }
          NDArray e = lm.embedTokens(ps, scope, rows, false);
          f = lm.forward(ps, e, positions(b, l + step, 1), new float[b][1], f.cache(), true, false);
        }
        f.logits().toFloatArray();
        long t2 = System.nanoTime();
        if (rounds > 0) { // the first round warms up
          prefillNanos += t1 - t0;
          decodeNanos += t2 - t1;
        }
        rounds++;
      }
    }
    long measured = rounds - 1;
    return new double[] {
      measured * (double) b * l / (prefillNanos / 1e9),
      measured * (double) b * STEPS / (decodeNanos / 1e9)
    };
  }

  private static long[][] positions(int b, int from, int count) {
    long[][] p = new long[b][count];
    for (long[] row : p) {
      for (int i = 0; i < count; i++) {
        row[i] = from + i;
      }
    }
    return p;
  }

  private interface Work {
    int run() throws Exception;
  }

  /** Items per second of {@code work}, after two warm-up calls, over the point's seconds. */
  private double rate(Work work) throws Exception {
    work.run();
    work.run();
    long start = System.nanoTime();
    long n = 0;
    do {
      n += work.run();
    } while (System.nanoTime() - start < secondsPerPoint * 1e9);
    return n / ((System.nanoTime() - start) / 1e9);
  }

  private static double round(double v) {
    return v >= 10 ? Math.round(v * 10) / 10.0 : Math.round(v * 1000) / 1000.0;
  }
}
