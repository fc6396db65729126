package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {
  private static final String HEADER = "step,m,loss,accuracy,learning_rate,examples_per_s";

  @Test
  void aResumedRunDropsTheLoggedStepsItWillRedo(@TempDir Path dir) throws Exception {
    // A run killed after step 6 and resumed from its step-4 checkpoint redoes steps 4..6.
    Path log = dir.resolve("train_log.csv");
    StringBuilder rows = new StringBuilder(HEADER).append('\n');
    for (int step = 0; step <= 6; step++) {
      rows.append(step).append(",64,").append(1.0 / (step + 1)).append(",0.5,0.001,10.0\n");
    }
    Files.writeString(log, rows);

    TrainCommand.keepLogBefore(log, 4);

    assertThat(Files.readAllLines(log)).hasSize(5).first().isEqualTo(HEADER);
    assertThat(Files.readAllLines(log).subList(1, 5))
        .extracting(line -> line.substring(0, line.indexOf(',')))
        .containsExactly("0", "1", "2", "3");
  }

  @Test
  void aFreshRunStartsTheLogOverWithItsHeader(@TempDir Path dir) throws Exception {
    Path log = dir.resolve("train_log.csv");
    Files.writeString(log, HEADER + "\n0,64,4.1,0.0,5e-06,1.6\n");

    TrainCommand.keepLogBefore(log, 0);

    assertThat(Files.readAllLines(log)).containsExactly(HEADER);
    TrainCommand.keepLogBefore(dir.resolve("new.csv"), 0);
    assertThat(Files.readAllLines(dir.resolve("new.csv"))).containsExactly(HEADER);
  }
}
