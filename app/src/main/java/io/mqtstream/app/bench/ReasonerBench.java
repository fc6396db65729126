package io.mqtstream.app.bench;

import ai.djl.Device;
import io.mqtstream.encoder.Flops;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.reasoner.DecodeBatch;
import io.mqtstream.reasoner.LmConfig;
import io.mqtstream.reasoner.Prompt;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.Sampling;
import io.mqtstream.reasoner.TextTokenizer;
import io.mqtstream.reasoner.WordVocabulary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Collectors;

/**
 * Prefill cost of the LLM stage per visual-token budget m, frames per prompt T and batch size: a
 * batch of prompts is admitted into a fresh {@link DecodeBatch} (batched prefill and the first
 * token). Reported per point: milliseconds of prefill per prompt, prompts per second, and the
 * analytic GFLOPs of one prompt's prefill.
 */
public final class ReasonerBench {
  private static final String QUESTION = "how many red circles are there in the picture now ?";

  private final Path checkpoint;
  private final int[] ms;
  private final int[] frames;
  private final int[] batches;
  private final double secondsPerPoint;
  private final String device;
  private final int prefillChunk;

  public ReasonerBench(
      Path checkpoint,
      int[] ms,
      int[] frames,
      int[] batches,
      double secondsPerPoint,
      String device,
      int prefillChunk) {
    this.prefillChunk = prefillChunk;
    this.checkpoint = checkpoint;
    this.ms = ms;
    this.frames = frames;
    this.batches = batches;
    this.secondsPerPoint = secondsPerPoint;
    this.device = device;
  }

  /** One measured point. */
  public record Point(
      int m,
      int frames,
      int batch,
      double prefillMsPerPrompt,
      double promptsPerS,
      double gflopsPerPrompt) {
    String json() {
      return String.format(
          Locale.ROOT,
          "{\"m\":%d,\"frames\":%d,\"batch\":%d,\"prefill_ms_per_prompt\":%.3f,\"prompts_per_s\":%.1f,\"gflops_per_prompt\":%.4f}",
          m,
          frames,
          batch,
          prefillMsPerPrompt,
          promptsPerS,
          gflopsPerPrompt);
    }
  }

  public String run() throws Exception {
    Device dev = io.mqtstream.nn.Engines.device(device);
    try (Reasoner r = open(dev)) {
      r.setPrefillChunkTokens(prefillChunk);
      LmConfig c = r.config();
      Flops.LlmShape shape =
          new Flops.LlmShape(
              c.layers(), c.dim(), c.ffnDim(), c.vocab(), c.mlp() == LmConfig.Mlp.SWIGLU);
      int textTokens = r.tokenizer().encode(QUESTION).length;
      // Every point runs once per round, rounds repeat: a slow phase of this shared machine hits
      // all points alike, so the ratios between them hold. Medians per point are reported.
      List<int[]> grid = new ArrayList<>();
      List<List<Prompt>> promptSets = new ArrayList<>();
      for (int t : frames) {
        for (int m : ms) {
          for (int b : batches) {
            grid.add(new int[] {m, t, b});
            List<Prompt> prompts = prompts(r, m, t, b);
            promptSets.add(prompts);
            admit(r, prompts); // warm-up
          }
        }
      }
      List<List<Double>> secs = new ArrayList<>();
      grid.forEach(g -> secs.add(new ArrayList<>()));
      long start = System.nanoTime();
      int rounds = 0;
      while (rounds < 3
          || (System.nanoTime() - start) < secondsPerPoint * grid.size() * 1e9 && rounds < 25) {
        for (int k = 0; k < grid.size(); k++) {
          long t0 = System.nanoTime();
          admit(r, promptSets.get(k));
          secs.get(k).add((System.nanoTime() - t0) / 1e9);
        }
        rounds++;
        System.err.printf(
            "bench reasoner: round %d done (%.0f s)%n", rounds, (System.nanoTime() - start) / 1e9);
      }
      List<Point> points = new ArrayList<>();
      for (int k = 0; k < grid.size(); k++) {
        int m = grid.get(k)[0];
        int t = grid.get(k)[1];
        int b = grid.get(k)[2];
        double median = secs.get(k).stream().sorted().toList().get(secs.get(k).size() / 2);
        Point p =
            new Point(
                m,
                t,
                b,
                median * 1e3 / b,
                b / median,
                Flops.llmPrefill(shape, m, t, textTokens) / 1e9);
        points.add(p);
        System.err.println("bench reasoner: " + p.json());
      }
      return "{\"device\":\""
          + dev
          + "\",\"rounds\":"
          + rounds
          + ",\"results\":["
          + points.stream().map(Point::json).collect(Collectors.joining(","))
          + "]"
          + summary(points)
          + "}";
    }
  }

  /** m=64 vs m=4 time ratio next to the FLOP ratio; batch 32 vs batch 1 throughput. */
  private String summary(List<Point> points) {
    StringBuilder s = new StringBuilder(",\"summary\":{");
    List<String> parts = new ArrayList<>();
    int bigBatch = Arrays.stream(batches).max().orElse(1);
    int smallBatch = Arrays.stream(batches).min().orElse(1);
    int bigM = Arrays.stream(ms).max().orElse(1);
    int smallM =
        Arrays.stream(ms).filter(x -> x >= 4).min().orElse(Arrays.stream(ms).min().orElse(1));
    for (int t : frames) {
      Point hi = find(points, bigM, t, bigBatch);
      Point lo = find(points, smallM, t, bigBatch);
      if (hi != null && lo != null && hi != lo) {
        parts.add(
            String.format(
                Locale.ROOT,
                "\"T%d_m%d_vs_m%d_time_ratio\":%.2f,\"T%d_m%d_vs_m%d_flop_ratio\":%.2f",
                t,
                bigM,
                smallM,
                hi.prefillMsPerPrompt() / lo.prefillMsPerPrompt(),
                t,
                bigM,
                smallM,
                hi.gflopsPerPrompt() / lo.gflopsPerPrompt()));
      }
      for (int m : ms) {
        Point one = find(points, m, t, smallBatch);
        Point many = find(points, m, t, bigBatch);
        if (one != null && many != null && one != many) {
          parts.add(
              String.format(
                  Locale.ROOT,
                  "\"T%d_m%d_batch%d_vs_batch%d_throughput\":%.2f",
                  t,
                  m,
                  bigBatch,
                  smallBatch,
                  many.promptsPerS() / one.promptsPerS()));
        }
      }
    }
    return s.append(String.join(",", parts)).append("}").toString();
  }

  private static Point find(List<Point> ps, int m, int t, int b) {
    return ps.stream()
        .filter(p -> p.m() == m && p.frames() == t && p.batch() == b)
        .findFirst()
        .orElse(null);
  }

  private static void admit(Reasoner r, List<Prompt> prompts) {
    try (DecodeBatch batch = r.newBatch()) {
      batch.admit(prompts);
    }
  }

  private Reasoner open(Device dev) throws Exception {
    Path llm = checkpoint == null ? null : checkpoint.resolve("llm");
    if (llm != null && Files.isRegularFile(llm.resolve(Reasoner.WEIGHTS_FILE))) {
      return Reasoner.load(llm, dev);
    }
    Path dir = Files.createTempDirectory("mqt-bench-tok");
    Path tok = dir.resolve("tokenizer.json");
    List<String> words = new ArrayList<>(Arrays.asList(QUESTION.split(" ")));
    for (int i = 0; i < 200; i++) {
      words.add("w" + i);
    }
    WordVocabulary.write(tok, words);
    TextTokenizer t = TextTokenizer.load(tok);
    return Reasoner.create(LmConfig.tiny(t.vocabSize()), t, 1, dev);
  }

  private static List<Prompt> prompts(Reasoner r, int m, int t, int b) {
    Random rnd = new Random(m * 31L + t);
    int dim = r.config().dim();
    int maxTokens = Math.max(64, m);
    List<Prompt> out = new ArrayList<>();
    for (int i = 0; i < b; i++) {
      List<VisualTokens> fs = new ArrayList<>();
      for (int f = 0; f < t; f++) {
        float[] v = new float[maxTokens * dim];
        for (int j = 0; j < v.length; j++) {
          v[j] = (float) rnd.nextGaussian();
        }
        fs.add(VisualTokens.of(v, maxTokens, dim).tokens(m));
      }
      out.add(r.prompt("b" + i, fs, QUESTION, Sampling.greedy(1), null));
    }
    return out;
  }
}
