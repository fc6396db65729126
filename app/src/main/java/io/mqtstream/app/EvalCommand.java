package io.mqtstream.app;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code mqt-stream eval}: the training module is not built yet. */
@Command(name = "eval", description = "Not available yet: the training module is not built yet.")
final class EvalCommand extends NotYetAvailable {
  @Unmatched java.util.List<String> ignored;

  @Override
  String missing() {
    return "the training module is not built yet";
  }
}
