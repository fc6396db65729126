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

  /** What a command printed: its exit code, its output, and its last line as JSON. */
  private record Run(int code, String out, JsonNode last) {}

  private static Run execute(String... args) throws Exception {
    StringWriter out = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(new StringWriter()));
    int code = cli.execute(args);
    String[] lines = out.toString().strip().split("\n");
    return new Run(code, out.toString(), new ObjectMapper().readTree(lines[lines.length - 1]));
  }

  @Test
  void aShortLoadTestAgainstTheEmbeddedEngineLosesNothing(@TempDir Path dir) throws Exception {
    Run run =
        execute(
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
    JsonNode result = run.last();
    assertThat(run.code()).as(run.out()).isZero();
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
  void thePolicyListRunsNamedBudgetsFromFilesAndNamesABadRun() {
    EngineConfig.Budget base = EngineConfig.defaults().budget();
    var runs =
        LoadtestCommand.budgets(
            "both,floor-shed=../configs/budget/floor-16-shed.yaml,"
                + "fixed-shed=../configs/budget/fixed-shed.yaml",
            base);
    assertThat(runs.keySet()).containsExactly("fixed", "adaptive", "floor-shed", "fixed-shed");
    assertThat(runs.get("fixed").policy()).isEqualTo("fixed");
    assertThat(runs.get("adaptive").maxStride()).isEqualTo(1);
    assertThat(runs.get("floor-shed").floor()).isEqualTo(16);
    assertThat(runs.get("floor-shed").maxStride()).isEqualTo(8);
    assertThat(runs.get("fixed-shed").policy()).isEqualTo("fixed");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> LoadtestCommand.budgets("adaptive,greedy", base))
        .hasMessageContaining("greedy");
  }

  @Test
  void demoPrintsAnswersAndASummaryLine() throws Exception {
    Path config = Files.createTempFile("demo", ".yaml");
    Files.writeString(config, "server:\n  port: 0\n");
    Run run =
        execute(
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
    JsonNode summary = run.last();
    assertThat(run.code()).as(run.out()).isZero();
    assertThat(summary.path("lost").asLong()).isZero();
    assertThat(summary.path("frames").asLong()).isGreaterThanOrEqualTo(6);
    assertThat(summary.fieldNames())
        .toIterable()
        .containsExactly("frames", "answers", "lost", "accuracy", "latency_ms", "m");
    assertThat(run.out().lines())
        .anyMatch(l -> l.startsWith("cam-0") && l.contains("how many shapes"));
  }

  @Test
  void loadtestDrivesAnEngineAlreadyRunningOnAnExternalCluster(@TempDir Path dir) throws Exception {
    try (io.mqtstream.embedded.EmbeddedKafka kafka = io.mqtstream.embedded.EmbeddedKafka.start()) {
      Path yaml = dir.resolve("engine.yaml");
      Files.writeString(
          yaml,
          """
          kafka:
            bootstrapServers: %s
            framesTopic: ext-frames
            answersTopic: ext-answers
            groupId: ext-engine
          server:
            port: -1
          """
              .formatted(kafka.bootstrapServers()));
      kafka.createTopic("ext-frames", 2);
      EngineConfig config = EngineConfig.load(yaml);
      try (io.mqtstream.app.engine.Engine engine =
          io.mqtstream.app.engine.Engine.start(
              config,
              kafka.bootstrapServers(),
              new io.micrometer.core.instrument.simple.SimpleMeterRegistry())) {
        Run run =
            execute(
                "loadtest",
                "--bootstrap",
                kafka.bootstrapServers(),
                "--config",
                yaml.toString(),
                "--cameras",
                "2",
                "--fps",
                "2",
                "--duration",
                "5s",
                "--warmup",
                "0s",
                "--json",
                "--out",
                dir.resolve("report").toString());
        JsonNode result = run.last();
        assertThat(run.code()).as(run.out()).isZero();
        assertThat(result.path("frames_sent").asLong()).isGreaterThanOrEqualTo(16);
        assertThat(result.path("lost").asLong()).isZero();
        assertThat(result.path("max_lag").isNumber()).isTrue();
        assertThat(engine.sourceStats().delivered()).isEqualTo(result.path("frames_sent").asLong());
      }
    }
  }

  @Test
  void demoPlaysAVideoFile(@TempDir Path dir) throws Exception {
    Path video = dir.resolve("clip.mp4");
    org.bytedeco.javacv.Java2DFrameConverter converter =
        new org.bytedeco.javacv.Java2DFrameConverter();
    try (org.bytedeco.javacv.FFmpegFrameRecorder recorder =
        new org.bytedeco.javacv.FFmpegFrameRecorder(video.toFile(), 96, 64)) {
      recorder.setVideoCodec(org.bytedeco.ffmpeg.global.avcodec.AV_CODEC_ID_MPEG4);
      recorder.setFormat("mp4");
      recorder.setFrameRate(10);
      recorder.start();
      for (int i = 0; i < 20; i++) {
        java.awt.image.BufferedImage img =
            new java.awt.image.BufferedImage(96, 64, java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
        java.awt.Graphics2D g = img.createGraphics();
        g.setColor(java.awt.Color.RED);
        g.fillOval(10 + 2 * i, 20, 16, 16);
        g.dispose();
        recorder.record(converter.convert(img));
      }
    }
    Path config = dir.resolve("demo.yaml");
    Files.writeString(config, "server:\n  port: -1\n");
    Run run =
        execute(
            "demo",
            "--video",
            video.toString(),
            "--cameras",
            "1",
            "--fps",
            "4",
            "--duration",
            "4s",
            "--json",
            "--config",
            config.toString());
    JsonNode summary = run.last();
    assertThat(run.code()).as(run.out()).isZero();
    assertThat(summary.path("frames").asLong()).isGreaterThanOrEqualTo(10);
    assertThat(summary.path("lost").asLong()).isZero();
    assertThat(summary.path("accuracy").isNull()).as("a video has no ground truth").isTrue();
  }
}
