package io.mqtstream.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code mqt-stream}: the one entry point. A bad option or configuration prints the reason (naming
 * the key) and exits 2.
 */
@Command(
    name = "mqt-stream",
    mixinStandardHelpOptions = true,
    version = "mqt-stream 0.1.0",
    description = "Reactive streaming video understanding with a Matryoshka Query Transformer.",
    subcommands = {
      DemoCommand.class,
      RunCommand.class,
      CameraCommand.class,
      TrainCommand.class,
      EvalCommand.class,
      LoadtestCommand.class,
      BenchCommand.class,
      AskCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {

  /** Exit code of a command given a bad option or configuration. */
  static final int BAD_INPUT = 2;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Main());
    cli.setExecutionExceptionHandler(
        (e, cmd, parsed) -> {
          if (e instanceof ConfigException || e instanceof IllegalArgumentException) {
            cmd.getErr().println("error: " + e.getMessage());
            return BAD_INPUT;
          }
          throw e;
        });
    return cli;
  }

  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }
}
