package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code ask} on the small MQT-LLaVA checkpoint whose expected outputs come from the reference
 * implementations (the llava module's fixtures): {@code --raw --json} gives the reference's greedy
 * ids.
 */
class AskCommandTest {
  private static final Path FIXTURES = Path.of("../llava/src/test/resources/reference/llava");

  private static String[] run(String... args) {
    CommandLine cli = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    return new String[] {Integer.toString(code), out.toString(), err.toString()};
  }

  /** {@code ask} on the fixture's picture with the LLaVA folder (and the tower, if asked). */
  private static String[] ask(boolean withVision, String... more) {
    java.util.List<String> args =
        new java.util.ArrayList<>(
            java.util.List.of(
                "ask",
                "--model",
                FIXTURES.resolve("llm").toString(),
                "--image",
                FIXTURES.resolve("image.png").toString()));
    if (withVision) {
      args.addAll(java.util.List.of("--vision", FIXTURES.resolve("vision").toString()));
    }
    args.addAll(java.util.List.of(more));
    return run(args.toArray(String[]::new));
  }

  @Test
  void rawJsonGivesTheReferencesGreedyIds() throws Exception {
    JsonNode cases = new ObjectMapper().readTree(FIXTURES.resolve("cases.json").toFile());
    for (String m : new String[] {"2", "16"}) {
      String[] r =
          ask(
              true,
              "--question",
              cases.get("raw").asText(),
              "--raw",
              "--json",
              "--m",
              m,
              "--max-new-tokens",
              "8");
      assertThat(r[0]).as(r[2]).isEqualTo("0");
      JsonNode line = new ObjectMapper().readTree(r[1].strip());
      assertThat(line.get("token_ids")).isEqualTo(cases.get("raw_greedy").get(m));
      assertThat(line.get("m").asInt()).isEqualTo(Integer.parseInt(m));
      assertThat(line.get("model").asText()).isEqualTo("llm");
      assertThat(line.has("answer")).isTrue();
    }
  }

  @Test
  void aHubNameWithoutALocalTowerFailsNamingTheSetting() {
    String[] r = ask(false, "--question", "what is it?");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).startsWith("error: --model").contains("mm_vision_tower").contains("--vision");
  }

  @Test
  void anMOutsideOneToMIsRefused() {
    String[] r = ask(true, "--question", "what is it?", "--m", "17");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).contains("--m must be in 1..16");
  }
}
