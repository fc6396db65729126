package io.mqtstream.app;

import io.mqtstream.training.TrainConfig;
import io.mqtstream.training.Trainer;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mqt-stream train}: trains the encoder and the LM on the synthetic world with the
 * Matryoshka objective, with a progress line, a CSV log of the curves and checkpoints.
 */
@Command(
    name = "train",
    description = "Train mqt-tiny on the synthetic world (Matryoshka objective).")
final class TrainCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec commandSpec;

  private static final String LOG_HEADER = "step,m,loss,accuracy,learning_rate,examples_per_s";

  @Option(
      names = "--config",
      required = true,
      description = "training YAML, e.g. configs/train/mqt-tiny.yaml")
  Path config;

  @Option(names = "--fixed-m", description = "train a fixed-m baseline at K tokens instead")
  Integer fixedM;

  @Option(
      names = "--seed",
      description =
          "seed the run with N instead of the config's seed: another draw of the same recipe"
              + " (other clips, questions and m at every step)")
  Long seed;

  @Option(names = "--resume", description = "continue from this checkpoint folder")
  Path resume;

  @Option(
      names = "--start-from",
      description =
          "fine-tune: start at step 0 from this model's weights (models/mqt-tiny or a checkpoint"
              + " folder), with a fresh optimizer; not with --resume")
  Path startFrom;

  @Option(names = "--output", description = "output folder (default: the config's)")
  Path output;

  @Override
  public Integer call() throws Exception {
    if (resume != null && startFrom != null) {
      throw new picocli.CommandLine.ParameterException(
          commandSpec.commandLine(), "--resume and --start-from: give one of them");
    }
    TrainSpec spec = TrainSpec.load(config);
    TrainConfig c = config(spec);
    Path out = output(spec);
    Files.createDirectories(out);
    try (Trainer trainer =
        resume != null
            ? Trainer.resume(c, resume)
            : startFrom != null ? Trainer.startFrom(c, startFrom) : Trainer.create(c, out)) {
      Path logFile = out.resolve("train_log.csv");
      keepLogBefore(logFile, resume != null ? trainer.stepsTaken() : 0);
      try (BufferedWriter log =
          Files.newBufferedWriter(logFile, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
        train(trainer, c, spec.checkpointEvery(), out, log);
      }
    }
    return 0;
  }

  /** The run the config and the options ask for: the config's, at --fixed-m and --seed if given. */
  TrainConfig config(TrainSpec spec) {
    TrainConfig c = spec.toConfig();
    if (fixedM != null) {
      c = c.withFixedM(fixedM);
    }
    if (seed != null) {
      c = c.withSeed(seed);
    }
    return c;
  }

  /**
   * Where the run writes: --output, else the config's folder with "-fixed-mK" and "-seedN" added
   * for those options, so a baseline or another seed never overwrites the config's own run.
   */
  Path output(TrainSpec spec) {
    if (output != null) {
      return output;
    }
    return Path.of(
        spec.output()
            + (fixedM != null ? "-fixed-m" + fixedM : "")
            + (seed != null ? "-seed" + seed : ""));
  }

  /**
   * Rewrites the curve log with its header and only the rows of steps before {@code step}: a run
   * resumed from an earlier checkpoint than where it stopped must not log those steps twice.
   */
  static void keepLogBefore(Path logFile, int step) throws IOException {
    List<String> kept = new ArrayList<>();
    kept.add(LOG_HEADER);
    if (step > 0 && Files.exists(logFile)) {
      for (String line : Files.readAllLines(logFile)) {
        int comma = line.indexOf(',');
        if (comma > 0 && isStepBefore(line.substring(0, comma), step)) {
          kept.add(line);
        }
      }
    }
    Files.write(logFile, kept);
  }

  private static boolean isStepBefore(String field, int step) {
    try {
      return Integer.parseInt(field) < step;
    } catch (NumberFormatException e) {
      return false; // the header, or not a row of ours
    }
  }

  private static void train(
      Trainer trainer, TrainConfig c, int checkpointEvery, Path out, BufferedWriter log)
      throws IOException {
    long start = System.nanoTime();
    int first = trainer.stepsTaken();
    double emaLoss = Double.NaN;
    double emaAcc = Double.NaN;
    while (trainer.stepsTaken() < c.steps()) {
      long t0 = System.nanoTime();
      Trainer.StepResult r = trainer.step();
      double rate = r.examples() / ((System.nanoTime() - t0) / 1e9);
      emaLoss = Double.isNaN(emaLoss) ? r.loss() : 0.95 * emaLoss + 0.05 * r.loss();
      emaAcc = Double.isNaN(emaAcc) ? r.accuracy() : 0.95 * emaAcc + 0.05 * r.accuracy();
      log.write(
          String.format(
              Locale.ROOT,
              "%d,%d,%.5f,%.4f,%.6g,%.1f%n",
              r.step(),
              r.m(),
              r.loss(),
              r.accuracy(),
              r.learningRate(),
              rate));
      int done = trainer.stepsTaken();
      if (done % 10 == 0 || done == c.steps()) {
        double perStep = (System.nanoTime() - start) / 1e9 / (done - first);
        System.err.printf(
            Locale.ROOT,
            "\rstep %d/%d  loss %.3f  acc %.1f%%  m %2d  lr %.1e  %.1f ex/s  ETA %s   ",
            done,
            c.steps(),
            emaLoss,
            100 * emaAcc,
            r.m(),
            r.learningRate(),
            rate,
            eta(perStep * (c.steps() - done)));
        log.flush();
      }
      if (done % checkpointEvery == 0 && done < c.steps()) {
        trainer.save(out.resolve("step-" + done));
      }
    }
    trainer.save(out.resolve("final"));
    System.err.println();
    System.out.printf(
        "trained %d steps in %s; model in %s%n",
        c.steps() - first, eta((System.nanoTime() - start) / 1e9), out.resolve("final"));
  }

  private static String eta(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format("%dh%02dm", s / 3600, (s % 3600) / 60)
        : String.format("%dm%02ds", s / 60, s % 60);
  }
}
