package io.mqtstream.app;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code mqt-stream loadtest}: the load-test harness is not built yet. */
@Command(
    name = "loadtest",
    description = "Not available yet: the load-test harness is not built yet.")
final class LoadtestCommand extends NotYetAvailable {
  @Unmatched java.util.List<String> ignored;

  @Override
  String missing() {
    return "the load-test harness is not built yet";
  }
}
