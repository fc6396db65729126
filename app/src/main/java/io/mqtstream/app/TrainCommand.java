package io.mqtstream.app;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code mqt-stream train}: the training module is not built yet. */
@Command(name = "train", description = "Not available yet: the training module is not built yet.")
final class TrainCommand extends NotYetAvailable {
  @Unmatched java.util.List<String> ignored;

  @Override
  String missing() {
    return "the training module is not built yet";
  }
}
