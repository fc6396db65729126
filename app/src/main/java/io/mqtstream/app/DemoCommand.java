package io.mqtstream.app;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code mqt-stream demo}: the engine pipeline is not built yet. */
@Command(name = "demo", description = "Not available yet: the engine pipeline is not built yet.")
final class DemoCommand extends NotYetAvailable {
  @Unmatched java.util.List<String> ignored;

  @Override
  String missing() {
    return "the engine pipeline is not built yet";
  }
}
