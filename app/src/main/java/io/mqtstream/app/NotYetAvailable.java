package io.mqtstream.app;

import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** Base of commands whose modules are not done yet: they say which issue brings them, exit 2. */
abstract class NotYetAvailable implements Callable<Integer> {
  @Spec CommandSpec spec;

  abstract String missing();

  @Override
  public Integer call() {
    spec.commandLine()
        .getErr()
        .println("mqt-stream " + spec.name() + ": not available yet (" + missing() + ")");
    return Main.NOT_AVAILABLE;
  }
}
