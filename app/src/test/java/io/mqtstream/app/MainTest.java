package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MainTest {

  @Test
  void commandsOfModulesNotBuiltYetSaySoAndExitTwo() {
    for (String cmd : new String[] {"demo", "run", "train", "eval", "loadtest"}) {
      StringWriter err = new StringWriter();
      CommandLine cli = Main.commandLine();
      cli.setErr(new PrintWriter(err));
      assertThat(cli.execute(cmd)).as(cmd).isEqualTo(2);
      assertThat(err.toString()).contains("not available yet");
    }
  }

  @Test
  void everySubcommandOfTheDesignIsThere() {
    assertThat(Main.commandLine().getSubcommands().keySet())
        .contains("demo", "run", "camera", "train", "eval", "loadtest", "bench");
  }

  @Test
  void badOptionsFailWithAMessage() {
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setErr(new PrintWriter(err));
    assertThat(cli.execute("camera", "--camera-id", "c1")).isNotZero();
    assertThat(err.toString()).contains("--source");
  }
}
