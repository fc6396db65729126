package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MainTest {

  @Test
  void runWithAnUnknownConfigKeyFailsAtStartNamingIt(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path f = dir.resolve("e.yaml");
    java.nio.file.Files.writeString(f, "budget:\n  policy: adaptive\n  latencyTarjet: 2s\n");
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setErr(new PrintWriter(err));
    assertThat(cli.execute("run", "--config", f.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("budget.latencyTarjet").contains("unknown key");
  }

  @Test
  void everySubcommandOfTheDesignIsThere() {
    assertThat(Main.commandLine().getSubcommands().keySet())
        .contains("demo", "run", "camera", "train", "eval", "loadtest", "bench");
  }

  @Test
  void aTrainingConfigWithAnUnknownKeyFailsNamingIt(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path f = dir.resolve("t.yaml");
    java.nio.file.Files.writeString(
        f,
        java.nio.file.Files.readString(
                java.nio.file.Path.of("..", "configs", "train", "mqt-tiny.yaml"))
            .replace("batchSize:", "batchSise:"));
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setErr(new PrintWriter(err));
    assertThat(cli.execute("train", "--config", f.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("batchSise").contains("unknown key");
  }

  @Test
  void theShippedTrainingConfigIsValid() {
    io.mqtstream.training.TrainConfig c =
        TrainSpec.load(java.nio.file.Path.of("..", "configs", "train", "mqt-tiny.yaml")).toConfig();
    assertThat(c.encoder().mqt().maxTokens()).isEqualTo(64);
    assertThat(c.fixedM()).isZero();
  }

  @Test
  void aTrainingConfigChoosesTheMqtBlockAndNamesAWrongOne(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    String shipped =
        java.nio.file.Files.readString(
            java.nio.file.Path.of("..", "configs", "train", "mqt-tiny.yaml"));
    java.nio.file.Path reference = dir.resolve("reference.yaml");
    java.nio.file.Files.writeString(
        reference,
        shipped
            .replace("block: legacy", "block: reference")
            .replace("tokenPositions: true", "tokenPositions: false"));
    assertThat(TrainSpec.load(reference).toConfig().encoder().mqt().block())
        .isEqualTo(io.mqtstream.encoder.MqtConfig.Block.REFERENCE);
    java.nio.file.Path bad = dir.resolve("bad.yaml");
    java.nio.file.Files.writeString(bad, shipped.replace("block: legacy", "block: perceiver"));
    assertThatThrownBy(() -> TrainSpec.load(bad).toConfig())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("block");
    java.nio.file.Path positions = dir.resolve("positions.yaml");
    java.nio.file.Files.writeString(
        positions, shipped.replace("block: legacy", "block: reference"));
    assertThatThrownBy(() -> TrainSpec.load(positions).toConfig())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("tokenPositions");
  }

  @Test
  void aTrainingConfigChoosesTheVisionBackboneAndNamesABadPatch(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path shipped = java.nio.file.Path.of("..", "configs", "train", "mqt-tiny.yaml");
    assertThat(TrainSpec.load(shipped).toConfig().encoder())
        .as("the shipped config is the mqt-tiny preset")
        .isEqualTo(
            io.mqtstream.encoder.EncoderConfig.tiny(
                io.mqtstream.encoder.MqtConfig.KeyMode.POSITIONAL, true));
    String text = java.nio.file.Files.readString(shipped);
    java.nio.file.Path fine = dir.resolve("fine.yaml");
    java.nio.file.Files.writeString(fine, text.replace("patchSize: 8", "patchSize: 4"));
    io.mqtstream.encoder.EncoderConfig enc = TrainSpec.load(fine).toConfig().encoder();
    assertThat(enc.vision().patches()).isEqualTo(256);
    assertThat(enc.mqt().patches()).isEqualTo(256);
    assertThat(enc.mqt().maxTokens()).isEqualTo(64);
    java.nio.file.Path bad = dir.resolve("bad.yaml");
    java.nio.file.Files.writeString(bad, text.replace("patchSize: 8", "patchSize: 5"));
    assertThatThrownBy(() -> TrainSpec.load(bad).toConfig())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("vision.patchSize");
  }

  @Test
  void aTrainingConfigCarriesACurriculumAndNamesAWrongStage(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path file =
        java.nio.file.Path.of("..", "configs", "train", "mqt-tiny-curriculum.yaml");
    assertThat(TrainSpec.load(file).toConfig().curriculum().stages())
        .extracting(io.mqtstream.training.Curriculum.Stage::maxObjects)
        .containsExactly(1, 2, 3);
    String text = java.nio.file.Files.readString(file);
    java.nio.file.Path misspelt = dir.resolve("misspelt.yaml");
    java.nio.file.Files.writeString(
        misspelt,
        text.replace("{ untilStep: 2500, maxObjects: 2 }", "{ untilStep: 2500, maxObject: 2 }"));
    assertThatThrownBy(() -> TrainSpec.load(misspelt).toConfig())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("curriculum[1].maxObject");
    java.nio.file.Path shrinking = dir.resolve("shrinking.yaml");
    java.nio.file.Files.writeString(shrinking, text.replace("untilStep: 2500", "untilStep: 1000"));
    assertThatThrownBy(() -> TrainSpec.load(shrinking).toConfig())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("curriculum[1].untilStep");
  }

  @Test
  void aTrainingConfigCanNarrowTheQuestionTypesAndNamesAnUnknownOne(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    String shipped =
        java.nio.file.Files.readString(
            java.nio.file.Path.of("..", "configs", "train", "mqt-tiny.yaml"));
    assertThat(
            TrainSpec.load(java.nio.file.Path.of("..", "configs", "train", "mqt-tiny.yaml"))
                .toConfig()
                .world()
                .types())
        .as("[] asks every type")
        .hasSize(io.mqtstream.world.QuestionType.values().length);
    java.nio.file.Path narrow = dir.resolve("narrow.yaml");
    java.nio.file.Files.writeString(
        narrow, shipped.replace("types: []", "types: [position, direction]"));
    assertThat(TrainSpec.load(narrow).toConfig().world().types())
        .containsExactlyInAnyOrder(
            io.mqtstream.world.QuestionType.POSITION, io.mqtstream.world.QuestionType.DIRECTION);
    java.nio.file.Path bad = dir.resolve("bad.yaml");
    java.nio.file.Files.writeString(bad, shipped.replace("types: []", "types: [position, size]"));
    assertThatThrownBy(() -> TrainSpec.load(bad).toConfig())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("world.types")
        .hasMessageContaining("size");
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
