package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code loadtest} and {@code demo} end to end: embedded broker, engine, shipped model. */
@Tag("kafka")
class LoadtestCommandTest {

  private static String[] lines(StringWriter out) {
    return out.toString().strip().split("\n");
  }

  @Test
  void aShortLoadTestAgainstTheEmbeddedEngineLosesNothing(@TempDir Path dir) throws Exception {
    StringWriter out = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(new StringWriter()));
    int code =
        cli.execute(
            "loadtest",
            "--cameras",
            "2",
            "--fps",
            "2",
            "--duration",
            "5s",
            "--json",
            "--out",
            dir.toString());
    String[] lines = lines(out);
    JsonNode result = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertThat(code).as(out.toString()).isZero();
    assertThat(result.path("frames_sent").asLong()).isGreaterThanOrEqualTo(16);
    assertThat(result.path("lost").asLong()).isZero();
    assertThat(result.path("answers").asLong()).isEqualTo(2 * result.path("frames_sent").asLong());
    assertThat(result.path("latency_ms").path("p99").isNumber()).isTrue();
    assertThat(result.path("m").path("hist").size()).isPositive();
    assertThat(result.path("accuracy").asDouble()).isBetween(0.3, 1.0);
    assertThat(Files.readString(dir.resolve("report.md"))).contains("| frames lost | 0 |");
    for (String png : new String[] {"latency.png", "m.png", "lag.png"}) {
      assertThat(Files.size(dir.resolve(png))).as(png).isGreaterThan(1000);
    }
  }

  @Test
  void demoPrintsAnswersAndASummaryLine() throws Exception {
    StringWriter out = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(new StringWriter()));
    Path config = Files.createTempFile("demo", ".yaml");
    Files.writeString(config, "server:\n  port: 0\n");
    int code =
        cli.execute(
            "demo",
            "--cameras",
            "1",
            "--fps",
            "2",
            "--duration",
            "4s",
            "--json",
            "--config",
            config.toString());
    String[] lines = lines(out);
    JsonNode summary = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertThat(code).as(out.toString()).isZero();
    assertThat(summary.path("lost").asLong()).isZero();
    assertThat(summary.path("frames").asLong()).isGreaterThanOrEqualTo(6);
    assertThat(summary.fieldNames())
        .toIterable()
        .containsExactly("frames", "answers", "lost", "accuracy", "latency_ms", "m");
    assertThat(lines).anyMatch(l -> l.startsWith("cam-0") && l.contains("how many shapes"));
  }
}
