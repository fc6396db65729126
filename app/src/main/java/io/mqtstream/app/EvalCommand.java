package io.mqtstream.app;

import ai.djl.Device;
import io.mqtstream.encoder.Flops;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.reasoner.LmConfig;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.training.AccuracyPlot;
import io.mqtstream.training.Evaluator;
import io.mqtstream.training.TokenProbe;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mqt-stream eval}: exact-match accuracy of a checkpoint on the synthetic world's test
 * split, per m and per question type, as a Markdown table, a PNG plot and (with --json) one JSON
 * line.
 */
@Command(
    name = "eval",
    description = "Accuracy per m and question type on the synthetic test split.")
final class EvalCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec commandSpec;

  @Option(
      names = "--checkpoint",
      description = "checkpoint folder with encoder/ and llm/ (default models/mqt-tiny)")
  Path checkpoint;

  @Option(
      names = "--compare",
      arity = "1..*",
      description = "more checkpoints (e.g. fixed-m baselines) to put side by side")
  List<Path> compare = new ArrayList<>();

  @Option(
      names = "--m",
      defaultValue = "2,4,8,16,32,64",
      description = "token budgets (default 2,4,8,16,32,64)")
  String m;

  @Option(names = "--samples", defaultValue = "500", description = "test clips (default 500)")
  int samples;

  @Option(names = "--seed", defaultValue = "0", description = "first test clip (default 0)")
  long seed;

  @Option(
      names = "--plot",
      defaultValue = "target/eval/accuracy_vs_m.png",
      description = "PNG to write")
  Path plot;

  @Option(names = "--json", description = "print one JSON line last")
  boolean json;

  @Option(
      names = "--probe",
      defaultValue = "0",
      description =
          "also fit linear probes of each object's place and of the counts by shape and by"
              + " colour from the first m tokens on this many training clips and score them on"
              + " --samples test clips (m of --m up to 8; 0 = off)")
  int probe;

  @Option(
      names = "--mistakes",
      defaultValue = "0",
      description =
          "also print, per question type at the largest m, the K commonest wrong answers as"
              + " 'expected → given ×count' (0 = off)")
  int mistakes;

  @Option(
      names = "--by-objects",
      description =
          "also print, per question type at the largest m, the accuracy by the number of objects"
              + " in the frame asked about and, for a question that names an object, by whether"
              + " another object there shares its colour or its shape")
  boolean byObjects;

  @Override
  public Integer call() throws Exception {
    int[] ms = Arrays.stream(m.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    List<Path> all = new ArrayList<>();
    all.add(
        checkpoint != null
            ? checkpoint
            : Path.of(System.getProperty("mqt.home", "."), "models", "mqt-tiny"));
    all.addAll(compare);
    Map<String, Map<Integer, Evaluator.Score>> results = new LinkedHashMap<>();
    Map<String, Evaluator.Score> blind = new LinkedHashMap<>();
    Map<Integer, Double> gflops = new LinkedHashMap<>();
    for (Path dir : all) {
      try (MqtEncoder encoder = MqtEncoder.load(dir.resolve("encoder"));
          Reasoner reasoner = Reasoner.load(dir.resolve("llm"), Device.cpu())) {
        WorldConfig tiny = WorldConfig.tiny();
        SyntheticWorld world =
            new SyntheticWorld(
                new WorldConfig(
                    encoder.config().vision().imageSize(),
                    reasoner.config().maxFrames(),
                    tiny.minObjects(),
                    tiny.maxObjects(),
                    tiny.moving(),
                    tiny.appearing(),
                    tiny.checkered(),
                    null));
        long t0 = System.nanoTime();
        int largest = Arrays.stream(ms).max().orElseThrow();
        Map<String, Map<String, Integer>> wrong = new TreeMap<>(); // type → "a → b" → times
        ClutterTally clutter = new ClutterTally(largest);
        Map<Integer, Evaluator.Score> scores =
            new Evaluator(encoder, reasoner, world)
                .evaluate(
                    ms,
                    samples,
                    seed,
                    done ->
                        System.err.printf(
                            "\reval %s: %d/%d clips", dir.getFileName(), done, samples),
                    a -> {
                      if (byObjects) {
                        clutter.accept(a);
                      }
                      if (mistakes > 0
                          && a.m() == largest
                          && !a.given().equals(a.question().answer())) {
                        wrong
                            .computeIfAbsent(a.question().type().key(), k -> new HashMap<>())
                            .merge(a.question().answer() + " → " + a.given(), 1, Integer::sum);
                      }
                    });
        System.err.printf(" (%.0f s)%n", (System.nanoTime() - t0) / 1e9);
        if (mistakes > 0) {
          System.out.printf("mistakes of %s at m=%d (expected → given ×times):%n", dir, largest);
          wrong.forEach(
              (type, pairs) ->
                  System.out.println(
                      "  "
                          + type
                          + ": "
                          + pairs.entrySet().stream()
                              .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                              .limit(mistakes)
                              .map(e -> e.getKey() + " ×" + e.getValue())
                              .collect(Collectors.joining(", "))));
        }
        if (byObjects) {
          System.out.print(clutter.report());
        }
        results.put(dir.toString(), scores); // the path as given: folder names alone can collide
        blind.put(dir.toString(), Evaluator.blind(world, samples, seed));
        if (probe > 0) {
          probe(encoder, world, ms, dir);
        }
        LmConfig lm = reasoner.config();
        Flops.LlmShape shape =
            new Flops.LlmShape(
                lm.layers(), lm.dim(), lm.ffnDim(), lm.vocab(), lm.mlp() == LmConfig.Mlp.SWIGLU);
        for (int k : ms) {
          gflops.putIfAbsent(
              k,
              (lm.maxFrames() * Flops.encoder(encoder.config(), k)
                      + Flops.llmPrefill(shape, k, lm.maxFrames(), 8))
                  / 1e9);
        }
      }
    }
    System.out.println(table(results, blind, ms));
    Map<String, Map<Integer, Double>> series = new LinkedHashMap<>();
    results.forEach(
        (name, scores) -> {
          Map<Integer, Double> s = new LinkedHashMap<>();
          scores.forEach((k, v) -> s.put(k, v.accuracy()));
          series.put(name, s);
        });
    AccuracyPlot.write(plot, series, gflops);
    System.out.println("plot: " + plot);
    if (json) {
      String first = results.keySet().iterator().next();
      System.out.println(json(results.get(first), blind.get(first)));
    }
    return 0;
  }

  private void probe(MqtEncoder encoder, SyntheticWorld world, int[] ms, Path dir) {
    int[] small = Arrays.stream(ms).filter(k -> k <= 8).toArray();
    if (small.length == 0) {
      throw new picocli.CommandLine.ParameterException(
          commandSpec.commandLine(), "--probe needs an m of at most 8 in --m");
    }
    long t0 = System.nanoTime();
    TokenProbe.Result result =
        new TokenProbe(encoder, world)
            .run(
                small,
                probe,
                samples,
                1e-3,
                done ->
                    System.err.printf(
                        "\rprobe %s: %d/%d clips", dir.getFileName(), done, probe + samples));
    System.err.printf(" (%.0f s)%n", (System.nanoTime() - t0) / 1e9);
    for (TokenProbe.Score s : result.byM()) {
      System.out.printf(
          Locale.ROOT,
          "probe %s m=%d: objects' places from the tokens %.1f%% right (%d calls), off by %.1f"
              + " px rms; counts by shape %.1f%%, by colour %.1f%% right (fitted on %d frames)%n",
          dir,
          s.m(),
          100 * s.accuracy(),
          s.scored(),
          s.rmsPixels(),
          100 * s.shapeCounts(),
          100 * s.colourCounts(),
          s.fitted());
    }
    if (!Double.isNaN(result.ownToken())) {
      System.out.printf(
          Locale.ROOT,
          "probe %s: each object's place from its own token (1 + i) %.1f%% right, from the next"
              + " identity's token %.1f%%%n",
          dir,
          100 * result.ownToken(),
          100 * result.nextToken());
    }
  }

  /** Per checkpoint a Markdown table: a row per m, then the row answered without looking. */
  private static String table(
      Map<String, Map<Integer, Evaluator.Score>> results,
      Map<String, Evaluator.Score> blind,
      int[] ms) {
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<String, Map<Integer, Evaluator.Score>> r : results.entrySet()) {
      TreeSet<String> types = new TreeSet<>();
      r.getValue().values().forEach(s -> types.addAll(s.byType().keySet()));
      sb.append("\n").append(r.getKey()).append("\n\n| m | overall |");
      types.forEach(t -> sb.append(' ').append(t).append(" |"));
      sb.append("\n|---|---|").append("---|".repeat(types.size())).append('\n');
      for (int k : ms) {
        row(sb, Integer.toString(k), r.getValue().get(k), types);
      }
      row(sb, "blind", blind.get(r.getKey()), types);
    }
    sb.append(
        "\nblind: no frames, each question answered with its commonest answer on these clips\n");
    return sb.toString();
  }

  private static void row(StringBuilder sb, String label, Evaluator.Score s, Set<String> types) {
    sb.append(String.format(Locale.ROOT, "| %s | %.1f%% |", label, 100 * s.accuracy()));
    types.forEach(
        t ->
            sb.append(
                String.format(
                    Locale.ROOT, " %.1f%% |", 100 * s.byType().getOrDefault(t, Double.NaN))));
    sb.append('\n');
  }

  /** {@code {"m":{"2":{score},…},"blind":{score}}}, a score being accuracy and by_type. */
  private static String json(Map<Integer, Evaluator.Score> scores, Evaluator.Score blind) {
    return "{\"m\":{"
        + scores.entrySet().stream()
            .map(e -> String.format(Locale.ROOT, "\"%d\":%s", e.getKey(), json(e.getValue())))
            .collect(Collectors.joining(","))
        + "},\"blind\":"
        + json(blind)
        + "}";
  }

  private static String json(Evaluator.Score s) {
    return String.format(
        Locale.ROOT,
        "{\"accuracy\":%.4f,\"by_type\":{%s}}",
        s.accuracy(),
        s.byType().entrySet().stream()
            .map(t -> String.format(Locale.ROOT, "\"%s\":%.4f", t.getKey(), t.getValue()))
            .collect(Collectors.joining(",")));
  }
}
