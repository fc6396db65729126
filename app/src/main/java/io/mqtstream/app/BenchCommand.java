package io.mqtstream.app;

import io.mqtstream.app.bench.IngestBench;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mqt-stream bench}: microbenchmarks; results belong in docs/benchmarks.md. */
@Command(
    name = "bench",
    description = "Benchmarks: ingest, encoder (reasoner comes with its module).")
final class BenchCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "what to measure: ingest | encoder | reasoner")
  String target;

  @Option(names = "--json", description = "print one JSON line")
  boolean json;

  @Option(
      names = "--frames",
      defaultValue = "20000",
      description = "ingest: frames to read (default 20000)")
  int frames;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "ingest: measured rounds; best and median reported (default 5)")
  int rounds;

  @Option(
      names = "--checkpoint",
      description = "encoder: checkpoint folder (default: models/mqt-tiny, else random weights)")
  Path checkpoint;

  @Option(
      names = "--batch",
      defaultValue = "1,8,32",
      description = "encoder: batch sizes (default 1,8,32)")
  String batch;

  @Option(
      names = "--seconds",
      defaultValue = "3",
      description = "encoder: seconds per batch size (default 3)")
  double seconds;

  @Override
  public Integer call() throws Exception {
    switch (target) {
      case "ingest" -> {
        IngestBench.Result r = new IngestBench(frames, rounds).run();
        System.out.println(json ? r.toJson() : r.toTable());
        return 0;
      }
      case "encoder" -> {
        Path ckpt =
            checkpoint != null
                ? checkpoint
                : Path.of(System.getProperty("mqt.home", "."), "models", "mqt-tiny");
        int[] sizes =
            java.util.Arrays.stream(batch.split(","))
                .map(String::trim)
                .mapToInt(Integer::parseInt)
                .toArray();
        System.out.println(new io.mqtstream.app.bench.EncoderBench(ckpt, sizes, seconds).run());
        return 0;
      }
      case "reasoner" -> {
        System.err.println(
            "mqt-stream bench " + target + ": not available yet (its module is not built yet)");
        return Main.NOT_AVAILABLE;
      }
      default ->
          throw new IllegalArgumentException(
              "bench: unknown target '" + target + "' (ingest, encoder, reasoner)");
    }
  }
}
