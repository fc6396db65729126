package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class MainTest {

  @Test
  void runWithAnUnknownConfigKeyFailsAtStartNamingIt(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("e.yaml");
    Files.writeString(f, "budget:\n  policy: adaptive\n  latencyTarjet: 2s\n");
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
  void aTrainingConfigWithAnUnknownKeyFailsNamingIt(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("t.yaml");
    Files.writeString(
        f,
        Files.readString(Path.of("..", "configs", "train", "mqt-tiny.yaml"))
            .replace("batchSize:", "batchSise:"));
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setErr(new PrintWriter(err));
    assertThat(cli.execute("train", "--config", f.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("batchSise").contains("unknown key");
  }

  /** A key left out fails naming it, instead of reading as 0 (identityWeight's 0 means off). */
  @Test
  void aTrainingConfigWithoutAKeyFailsNamingIt(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> variant(dir, TRAIN_CONFIG, "identityWeight: 0", ""))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("identityWeight")
        .hasMessageContaining("missing");
    assertThatThrownBy(() -> variant(dir, TRAIN_CONFIG, "  checkered: 0.3", ""))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("world.checkered");
    failure(dir, TRAIN_CONFIG, "identityWeight: 0", "identityWeight: -1")
        .hasMessageContaining("identityWeight");
    failure(dir, TRAIN_CONFIG, "identityPlaces: false", "identityPlaces: true")
        .hasMessageContaining("identityPlaces");
    failure(dir, TRAIN_CONFIG, "identityMotion: 0", "identityMotion: -0.5")
        .hasMessageContaining("identityMotion");
    // the motion is read by the identity head, which this config has off (identityWeight: 0)
    failure(dir, TRAIN_CONFIG, "identityMotion: 0", "identityMotion: 1")
        .hasMessageContaining("identityMotion")
        .hasMessageContaining("identityWeight");
    failure(dir, TRAIN_CONFIG, "identityTokens: 0", "identityTokens: -1")
        .hasMessageContaining("identityTokens");
    // the tokens are read by the identity head, which this config has off
    failure(dir, TRAIN_CONFIG, "identityTokens: 0", "identityTokens: 1")
        .hasMessageContaining("identityTokens")
        .hasMessageContaining("identityWeight");
    failure(dir, TRAIN_CONFIG, "subjectWeight: 0", "subjectWeight: -1")
        .hasMessageContaining("subjectWeight");
    failure(dir, TRAIN_CONFIG, "tokenIndex: false", "tokenIndex: sometimes")
        .hasMessageContaining("tokenIndex");
    failure(dir, TRAIN_CONFIG, "tokenIndex: false", "").hasMessageContaining("tokenIndex");
    failure(dir, TRAIN_CONFIG, "objectNames: false", "objectNames: often")
        .hasMessageContaining("objectNames");
    failure(dir, TRAIN_CONFIG, "objectNames: false", "").hasMessageContaining("objectNames");
    failure(dir, TRAIN_CONFIG, "nameAttention: 0", "nameAttention: lots")
        .hasMessageContaining("nameAttention");
    failure(dir, TRAIN_CONFIG, "nameAttention: 0", "").hasMessageContaining("nameAttention");
    // the shipped recipe has no identity tokens for the names to look at
    failure(dir, TRAIN_CONFIG, "nameAttention: 0", "nameAttention: 1.0")
        .hasMessageContaining("train.nameAttention");
    failure(dir, TRAIN_CONFIG, "frameDifference: false", "frameDifference: maybe")
        .hasMessageContaining("frameDifference");
    failure(dir, TRAIN_CONFIG, "frameDifference: false", "")
        .hasMessageContaining("frameDifference");
    failure(dir, TRAIN_CONFIG, "nameSubject: 0", "nameSubject: some")
        .hasMessageContaining("nameSubject");
    failure(dir, TRAIN_CONFIG, "nameSubject: 0", "").hasMessageContaining("nameSubject");
    // the shipped recipe has no name loss whose gathering the read would read
    failure(dir, TRAIN_CONFIG, "nameSubject: 0", "nameSubject: 1.0")
        .hasMessageContaining("train.nameSubject");
    failure(dir, TRAIN_CONFIG, "mDrawPower: 0", "mDrawPower: log")
        .hasMessageContaining("mDrawPower");
    failure(dir, TRAIN_CONFIG, "mDrawPower: 0", "").hasMessageContaining("mDrawPower");
    failure(dir, TRAIN_CONFIG, "mDrawPower: 0", "mDrawPower: -1")
        .hasMessageContaining("train.mDrawPower");
    failure(dir, TRAIN_CONFIG, "mDrawsPerStep: 1", "mDrawsPerStep: 3")
        .hasMessageContaining("train.mDrawsPerStep");
    failure(dir, TRAIN_CONFIG, "mDrawsPerStep: 1", "").hasMessageContaining("mDrawsPerStep");
    failure(dir, TRAIN_CONFIG, "distillWeight: 0", "distillWeight: -1")
        .hasMessageContaining("train.distillWeight");
    failure(dir, TRAIN_CONFIG, "distillWeight: 0", "").hasMessageContaining("distillWeight");
    failure(dir, TRAIN_CONFIG, "sandwich: false", "sandwich: true")
        .hasMessageContaining("train.sandwich");
    failure(dir, TRAIN_CONFIG, "sandwich: false", "").hasMessageContaining("sandwich");
    failure(dir, TRAIN_CONFIG, "mChoices: []", "mChoices: [4, 2]")
        .hasMessageContaining("train.mChoices");
    failure(dir, TRAIN_CONFIG, "mChoices: []", "mChoices: [2, 128]")
        .hasMessageContaining("train.mChoices");
    failure(dir, TRAIN_CONFIG, "mChoices: []", "").hasMessageContaining("mChoices");
    failure(dir, TRAIN_CONFIG, "mChoices: []", "mChoices: [2, ~]")
        .hasMessageContaining("train.mChoices");
    failure(dir, TRAIN_CONFIG, "nameSummary: false", "nameSummary: true")
        .hasMessageContaining("train.nameSummary");
    failure(dir, TRAIN_CONFIG, "nameSummary: false", "").hasMessageContaining("nameSummary");
    failure(dir, TRAIN_CONFIG, "summaryTokens: 1", "summaryTokens: 0")
        .hasMessageContaining("train.summaryTokens");
    failure(dir, TRAIN_CONFIG, "summaryTokens: 1", "").hasMessageContaining("summaryTokens");
    failure(dir, TRAIN_CONFIG, "budgetEmbedding: false", "budgetEmbedding: sometimes")
        .hasMessageContaining("budgetEmbedding");
    failure(dir, TRAIN_CONFIG, "budgetEmbedding: false", "")
        .hasMessageContaining("budgetEmbedding");
    failure(dir, TRAIN_CONFIG, "budgetRateScale: 1", "budgetRateScale: 10")
        .hasMessageContaining("train.budgetRateScale");
    failure(dir, TRAIN_CONFIG, "budgetRateScale: 1", "").hasMessageContaining("budgetRateScale");
    failure(dir, TRAIN_CONFIG, "budgetNorms: []", "budgetNorms: [4, 2]")
        .hasMessageContaining("train.budgetNorms");
    failure(dir, TRAIN_CONFIG, "budgetNorms: []", "budgetNorms: [2, 128]")
        .hasMessageContaining("train.budgetNorms");
    failure(dir, TRAIN_CONFIG, "budgetNorms: []", "").hasMessageContaining("budgetNorms");
    failure(dir, TRAIN_CONFIG, "budgetAdapterRank: 0", "budgetAdapterRank: 4")
        .as("adapters need budgetNorms' sets")
        .hasMessageContaining("train.budgetAdapterRank");
    failure(dir, TRAIN_CONFIG, "budgetAdapterRank: 0", "")
        .hasMessageContaining("budgetAdapterRank");
    failure(dir, TRAIN_CONFIG, "budgetLoraRank: 0", "budgetLoraRank: 4")
        .as("LoRA needs budgetNorms' sets")
        .hasMessageContaining("train.budgetLoraRank");
    failure(dir, TRAIN_CONFIG, "budgetLoraRank: 0", "").hasMessageContaining("budgetLoraRank");
    failure(dir, TRAIN_CONFIG, "trains: all", "trains: lm").hasMessageContaining("trains");
    failure(dir, TRAIN_CONFIG, "trains: all", "").hasMessageContaining("trains");
    assertThat(variant(dir, TRAIN_CONFIG, "trains: all", "trains: llm").toConfig().trains())
        .isEqualTo(io.mqtstream.training.TrainConfig.Trains.LLM);
    assertThat(
            variant(dir, TRAIN_CONFIG, "budgetNorms: []", "budgetNorms: [2, 4, 64]")
                .toConfig()
                .budgetNorms())
        .containsExactly(2, 4, 64);
    for (String key : List.of("budgetAdapterRank", "budgetLoraRank")) {
      var c =
          variant(
                  dir,
                  TRAIN_CONFIG,
                  "budgetNorms: []",
                  "budgetNorms: [2, 4]",
                  key + ": 0",
                  key + ": 4")
              .toConfig();
      assertThat(key.equals("budgetLoraRank") ? c.budgetLoraRank() : c.budgetAdapterRank())
          .as(key)
          .isEqualTo(4);
    }
    assertThat(
            variant(dir, TRAIN_CONFIG, "budgetEmbedding: false", "budgetEmbedding: true")
                .toConfig()
                .budgetEmbedding())
        .isTrue();
    assertThat(
            variant(dir, TRAIN_CONFIG, "mChoices: []", "mChoices: [2, 4, 8]").toConfig().mChoices())
        .containsExactly(2, 4, 8);
    assertThat(variant(dir, TRAIN_CONFIG, "mDrawPower: 0", "mDrawPower: 1").toConfig().mDrawPower())
        .isEqualTo(1f);
  }

  @Test
  void theShippedTrainingConfigIsValid() {
    io.mqtstream.training.TrainConfig c =
        TrainSpec.load(Path.of("..", "configs", "train", "mqt-tiny.yaml")).toConfig();
    assertThat(c.encoder().mqt().maxTokens()).isEqualTo(64);
    assertThat(c.fixedM()).isZero();
  }

  /** Every recipe the docs name (earlier models', tries, diagnostics) still loads and validates. */
  @Test
  void everyTrainingConfigInTheRepositoryIsValid() throws java.io.IOException {
    List<Path> configs;
    try (var files = Files.list(Path.of("..", "configs", "train"))) {
      configs = files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(configs).hasSizeGreaterThan(1);
    for (Path f : configs) {
      try {
        TrainSpec.load(f).toConfig();
      } catch (RuntimeException e) {
        throw new AssertionError(f + ": " + e.getMessage(), e);
      }
    }
  }

  private static final Path TRAIN_CONFIG = Path.of("..", "configs", "train", "mqt-tiny.yaml");

  /** {@code base} with each (from, to) pair of {@code edits} replaced, written into {@code dir}. */
  private static TrainSpec variant(Path dir, Path base, String... edits)
      throws java.io.IOException {
    String text = Files.readString(base);
    for (int i = 0; i < edits.length; i += 2) {
      text = text.replace(edits[i], edits[i + 1]);
    }
    Path file = Files.createTempFile(dir, "train", ".yaml");
    Files.writeString(file, text);
    return TrainSpec.load(file);
  }

  /** The configuration error of such a variant. */
  private static org.assertj.core.api.AbstractThrowableAssert<?, ? extends Throwable> failure(
      Path dir, Path base, String... edits) {
    return assertThatThrownBy(() -> variant(dir, base, edits).toConfig())
        .isInstanceOf(ConfigException.class);
  }

  @Test
  void aTrainingConfigChoosesTheMqtBlockAndNamesAWrongOne(@TempDir Path dir) throws Exception {
    assertThat(
            variant(
                    dir,
                    TRAIN_CONFIG,
                    "block: legacy",
                    "block: reference",
                    "tokenPositions: true",
                    "tokenPositions: false")
                .toConfig()
                .encoder()
                .mqt()
                .block())
        .isEqualTo(io.mqtstream.encoder.MqtConfig.Block.REFERENCE);
    failure(dir, TRAIN_CONFIG, "block: legacy", "block: perceiver").hasMessageContaining("block");
    failure(dir, TRAIN_CONFIG, "block: legacy", "block: reference")
        .hasMessageContaining("tokenPositions");
  }

  @Test
  void aTrainingConfigChoosesWhereTheQuestionStands(@TempDir Path dir) throws Exception {
    assertThat(TrainSpec.load(TRAIN_CONFIG).toConfig().promptOrder())
        .isEqualTo(io.mqtstream.reasoner.LmConfig.PromptOrder.FRAMES_FIRST);
    io.mqtstream.training.TrainConfig questionFirst =
        variant(dir, TRAIN_CONFIG, "promptOrder: frames-first", "promptOrder: question-first")
            .toConfig();
    assertThat(questionFirst.promptOrder())
        .isEqualTo(io.mqtstream.reasoner.LmConfig.PromptOrder.QUESTION_FIRST);
    failure(dir, TRAIN_CONFIG, "promptOrder: frames-first", "promptOrder: answer-first")
        .hasMessageContaining("promptOrder");
  }

  @Test
  void aTrainingConfigChoosesHowTheQueriesStartAndNamesWhatAPyramidNeeds(@TempDir Path dir)
      throws Exception {
    assertThat(TrainSpec.load(TRAIN_CONFIG).toConfig().queryInit())
        .isEqualTo(io.mqtstream.training.TrainConfig.QueryInit.RANDOM);
    assertThat(
            variant(dir, TRAIN_CONFIG, "queryInit: random", "queryInit: pyramid")
                .toConfig()
                .queryInit())
        .isEqualTo(io.mqtstream.training.TrainConfig.QueryInit.PYRAMID);
    failure(dir, TRAIN_CONFIG, "queryInit: random", "queryInit: grid")
        .hasMessageContaining("queryInit");
    failure(
            dir,
            TRAIN_CONFIG,
            "queryInit: random",
            "queryInit: pyramid",
            "block: legacy",
            "block: reference",
            "tokenPositions: true",
            "tokenPositions: false")
        .hasMessageContaining("queryInit")
        .hasMessageContaining("positional");
    failure(
            dir,
            TRAIN_CONFIG,
            "queryInit: random",
            "queryInit: pyramid",
            "keyMode: positional",
            "keyMode: content")
        .hasMessageContaining("queryInit")
        .hasMessageContaining("image");
  }

  @Test
  void aTrainingConfigChoosesTheVisionBackboneAndNamesABadPatch(@TempDir Path dir)
      throws Exception {
    assertThat(
            TrainSpec.load(Path.of("..", "configs", "train", "mqt-tiny-name-attention-more.yaml"))
                .toConfig()
                .encoder())
        .as("the shipped model's last recipe builds its encoder")
        .isEqualTo(
            io.mqtstream.encoder.EncoderConfig.read(
                Path.of("..", "models", "mqt-tiny", "encoder", "config.json")));
    assertThat(
            variant(dir, TRAIN_CONFIG, "stem: conv", "stem: linear")
                .toConfig()
                .encoder()
                .vision()
                .stem())
        .isEqualTo(io.mqtstream.encoder.VitConfig.Stem.LINEAR);
    failure(dir, TRAIN_CONFIG, "stem: conv", "stem: convolutional")
        .hasMessageContaining("vision.stem");
    io.mqtstream.encoder.EncoderConfig enc =
        variant(dir, TRAIN_CONFIG, "patchSize: 8", "patchSize: 4").toConfig().encoder();
    assertThat(enc.vision().patches()).isEqualTo(256);
    assertThat(enc.mqt().patches()).isEqualTo(256);
    assertThat(enc.mqt().maxTokens()).isEqualTo(64);
    failure(dir, TRAIN_CONFIG, "patchSize: 8", "patchSize: 5")
        .hasMessageContaining("vision.patchSize");
  }

  @Test
  void aTrainingConfigCarriesACurriculumAndNamesAWrongStage(@TempDir Path dir) throws Exception {
    Path file = Path.of("..", "configs", "train", "mqt-tiny-curriculum.yaml");
    assertThat(TrainSpec.load(file).toConfig().curriculum().stages())
        .extracting(io.mqtstream.training.Curriculum.Stage::maxObjects)
        .containsExactly(1, 2, 3);
    failure(dir, file, "{ untilStep: 2500, maxObjects: 2 }", "{ untilStep: 2500, maxObject: 2 }")
        .hasMessageContaining("curriculum[1].maxObject");
    failure(dir, file, "untilStep: 2500", "untilStep: 1000")
        .hasMessageContaining("curriculum[1].untilStep");
  }

  @Test
  void aTrainingConfigCanNarrowTheQuestionTypesAndNamesAnUnknownOne(@TempDir Path dir)
      throws Exception {
    assertThat(TrainSpec.load(TRAIN_CONFIG).toConfig().world().types())
        .as("[] asks every type")
        .hasSize(io.mqtstream.world.QuestionType.values().length);
    assertThat(
            variant(dir, TRAIN_CONFIG, "types: []", "types: [position, direction]")
                .toConfig()
                .world()
                .types())
        .containsExactlyInAnyOrder(
            io.mqtstream.world.QuestionType.POSITION, io.mqtstream.world.QuestionType.DIRECTION);
    failure(dir, TRAIN_CONFIG, "types: []", "types: [position, size]")
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

  @Test
  void trainTakesEitherResumeOrStartFromNotBoth() {
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setErr(new PrintWriter(err));
    String config = Path.of("..", "configs", "train", "mqt-tiny.yaml").toString();
    assertThat(cli.execute("train", "--config", config, "--resume", "a", "--start-from", "b"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("--resume and --start-from");
  }

  /**
   * {@code train --seed N} is the config's recipe at seed N: v18's baseline config with {@code
   * --seed 7} is exactly the run of its seed-7 copy (a file that differs from it in the seed and
   * the output folder), with and without {@code --fixed-m}; and its default folder is its own.
   */
  @Test
  void trainSeedRunsTheConfigsRecipeAtAnotherSeed() throws Exception {
    Path dir = Path.of("..", "configs", "train");
    TrainSpec base = TrainSpec.load(dir.resolve("mqt-tiny-arms-v20.yaml"));
    TrainSpec copy = TrainSpec.load(dir.resolve("mqt-tiny-arms-v20-seed7.yaml"));
    assertThat(copy.seed()).isNotEqualTo(base.seed());
    assertThat(parsed("--seed", "7").config(base)).isEqualTo(copy.toConfig());
    assertThat(parsed("--seed", "7", "--fixed-m", "4").config(base))
        .isEqualTo(copy.toConfig().withFixedM(4))
        .isNotEqualTo(copy.toConfig());
    assertThat(parsed().config(base)).isEqualTo(base.toConfig()).isNotEqualTo(copy.toConfig());
    // without --output, each option names the folder, so no run overwrites the config's own
    assertThat(parsed().output(base)).isEqualTo(Path.of(base.output()));
    assertThat(parsed("--seed", "7", "--fixed-m", "4").output(base))
        .isEqualTo(Path.of(base.output() + "-fixed-m4-seed7"));
    assertThat(parsed("--seed", "7", "--output", "elsewhere").output(base))
        .isEqualTo(Path.of("elsewhere"));
  }

  /** The train command with these options after {@code --config}. */
  private static TrainCommand parsed(String... options) {
    List<String> args = new java.util.ArrayList<>(List.of("train", "--config", "unused.yaml"));
    args.addAll(List.of(options));
    return (TrainCommand)
        Main.commandLine()
            .parseArgs(args.toArray(String[]::new))
            .subcommand()
            .commandSpec()
            .userObject();
  }
}
