package io.mqtstream.app;

import io.mqtstream.app.bench.EncoderBench;
import io.mqtstream.app.bench.IngestBench;
import io.mqtstream.app.bench.LlavaBench;
import io.mqtstream.app.bench.ReasonerBench;
import io.mqtstream.encoder.ClipVisionConfig;
import io.mqtstream.llava.LlavaConfig;
import io.mqtstream.llava.MqtLlava;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mqt-stream bench}: microbenchmarks; results belong in docs/benchmarks.md. */
@Command(name = "bench", description = "Benchmarks: ingest, encoder, reasoner, llava.")
final class BenchCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "what to measure: ingest | encoder | reasoner | llava")
  String target;

  @Option(names = "--json", description = "print one JSON line")
  boolean json;

  @Option(
      names = "--frames",
      description =
          "ingest: frames to read (default 20000); reasoner: frames per prompt (default 1,4)")
  String frames;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "ingest: measured rounds; best and median reported (default 5)")
  int rounds;

  @Option(
      names = "--checkpoint",
      description =
          "encoder/reasoner: checkpoint folder (default: models/mqt-tiny, else random weights)")
  Path checkpoint;

  @Option(
      names = "--batch",
      defaultValue = "1,8,32",
      description = "encoder/reasoner: batch sizes (default 1,8,32)")
  String batch;

  @Option(
      names = "--m",
      defaultValue = "2,4,16,64",
      description = "reasoner: visual tokens per frame (default 2,4,16,64)")
  String m;

  @Option(
      names = "--seconds",
      defaultValue = "3",
      description = "encoder/reasoner: seconds per point (default 3 encoder, 1 reasoner)")
  double seconds;

  @Option(
      names = "--device",
      defaultValue = "auto",
      description = "reasoner: cpu | gpu | auto (default auto)")
  String device;

  @Option(
      names = "--prefill-chunk",
      defaultValue = "2048",
      description = "reasoner: padded positions per prefill chunk (default 2048)")
  int prefillChunk;

  @Option(names = "--model", description = "llava: an MQT-LLaVA folder (with --vision)")
  Path model;

  @Option(names = "--vision", description = "llava: the CLIP tower's folder")
  Path vision;

  @Option(
      names = "--random-weights",
      description = "llava: the --preset's shapes with random weights (no checkpoint needed)")
  boolean randomWeights;

  @Option(
      names = "--preset",
      description =
          "llava: preset YAML for --random-weights (default configs/models/mqt-llava-7b.yaml)")
  Path preset;

  @Option(
      names = "--dtype",
      defaultValue = "fp32",
      description = "llava: fp32 or fp16 (default fp32)")
  String dtype;

  @Override
  public Integer call() throws Exception {
    switch (target) {
      case "ingest" -> {
        int n = frames == null ? 20_000 : Integer.parseInt(frames.trim());
        IngestBench.Result r = new IngestBench(n, rounds).run();
        System.out.println(json ? r.toJson() : r.toTable());
      }
      case "encoder" ->
          System.out.println(new EncoderBench(checkpointOrDefault(), ints(batch), seconds).run());
      case "reasoner" -> {
        double perPoint = seconds == 3 ? 1 : seconds;
        System.out.println(
            new ReasonerBench(
                    checkpointOrDefault(),
                    ints(m),
                    ints(frames == null ? "1,4" : frames),
                    ints(batch),
                    perPoint,
                    device,
                    prefillChunk)
                .run());
      }
      case "llava" -> {
        try (MqtLlava llava = llava()) {
          System.out.println(
              new LlavaBench(
                      llava, ints(batch), ints(m.equals("2,4,16,64") ? "2,16,64,256" : m), seconds)
                  .run());
        }
      }
      default ->
          throw new IllegalArgumentException(
              "bench: unknown target '" + target + "' (ingest, encoder, reasoner, llava)");
    }
    return 0;
  }

  private MqtLlava llava() throws java.io.IOException {
    ai.djl.Device d = io.mqtstream.nn.Engines.device(device);
    if (randomWeights == (model != null)) {
      throw new IllegalArgumentException(
          "bench llava: give --random-weights or --model (and --vision)");
    }
    if (model != null) {
      return MqtLlava.load(model, vision, d, MqtLlava.dtype(dtype));
    }
    Path file =
        preset != null
            ? preset
            : Path.of(
                System.getProperty("mqt.home", "."), "configs", "models", "mqt-llava-7b.yaml");
    com.fasterxml.jackson.databind.JsonNode tree =
        new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(file.toFile());
    LlavaConfig config = LlavaConfig.of(tree.path("llm"), file + " llm");
    ClipVisionConfig tower =
        ClipVisionConfig.of(
            tree.path("vision"), file + " vision", config.selectLayer(), config.selectFeature());
    int queries = tree.at("/mqt/num_queries").asInt(256);
    System.err.printf(
        Locale.ROOT,
        "bench llava: %s with random weights, %.2f B parameters (%s)%n",
        file.getFileName(),
        MqtLlava.parameters(config, tower, queries) / 1e9,
        dtype);
    return MqtLlava.random(config, tower, queries, d, MqtLlava.dtype(dtype));
  }

  private Path checkpointOrDefault() {
    return checkpoint != null
        ? checkpoint
        : Path.of(System.getProperty("mqt.home", "."), "models", "mqt-tiny");
  }

  private static int[] ints(String list) {
    try {
      return Arrays.stream(list.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bench: not a list of whole numbers: '" + list + "'");
    }
  }
}
