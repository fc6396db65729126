package io.mqtstream.app;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.mqtstream.encoder.EncoderConfig;
import io.mqtstream.encoder.MqtConfig;
import io.mqtstream.encoder.VitConfig;
import io.mqtstream.reasoner.LmConfig;
import io.mqtstream.training.Curriculum;
import io.mqtstream.training.TrainConfig;
import io.mqtstream.world.QuestionType;
import io.mqtstream.world.WorldConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/** A training run as written in {@code configs/train/*.yaml}; see that file for every key. */
record TrainSpec(
    long seed,
    int steps,
    int visionSteps,
    boolean objectSlots,
    int alignmentSteps,
    int batchSize,
    float learningRate,
    int warmupSteps,
    float weightDecay,
    float clipNorm,
    int fixedM,
    int questionsPerClip,
    int checkpointEvery,
    String output,
    String keyMode,
    boolean tokenPositions,
    String block,
    int lmLayers,
    int lmHeads,
    int lmFfn,
    Vision vision,
    World world,
    List<Stage> curriculum,
    String queryInit,
    String promptOrder,
    boolean freezeVision,
    float identityWeight,
    boolean identityPlaces,
    float identityMotion,
    float identityTokens,
    float subjectWeight,
    boolean tokenIndex,
    boolean objectNames,
    float nameAttention,
    boolean frameDifference,
    float nameSubject,
    float mDrawPower,
    int mDrawsPerStep,
    float distillWeight,
    boolean sandwich,
    List<Integer> mChoices,
    boolean nameSummary,
    int summaryTokens,
    boolean budgetEmbedding,
    float budgetRateScale,
    List<Integer> budgetNorms,
    int budgetAdapterRank,
    int budgetLoraRank,
    String trains) {

  /** One curriculum stage: until this step, at most this many objects per clip. */
  record Stage(int untilStep, int maxObjects) {}

  /** The vision backbone (ViT) of the run's encoder. */
  record Vision(int patchSize, int dim, int layers, int heads, String stem) {}

  record World(
      int imageSize,
      int frames,
      int minObjects,
      int maxObjects,
      double moving,
      double appearing,
      double checkered,
      List<String> types) {}

  static TrainSpec load(Path file) {
    try {
      com.fasterxml.jackson.databind.JsonNode tree = EngineConfig.mapper().readTree(file.toFile());
      // Unknown keys first: a misspelt key would otherwise surface as "missing" under its right
      // name.
      rejectUnknown(tree, TrainSpec.class, "");
      rejectUnknown(tree.path("world"), World.class, "world.");
      rejectUnknown(tree.path("vision"), Vision.class, "vision.");
      for (int i = 0; i < tree.path("curriculum").size(); i++) {
        rejectUnknown(tree.path("curriculum").get(i), Stage.class, "curriculum[" + i + "].");
      }
      // then missing ones: a number left out would otherwise read as 0 (a run without a key
      // added later, e.g. identityWeight, would silently get it off)
      rejectMissing(tree, TrainSpec.class, "");
      rejectMissing(tree.path("world"), World.class, "world.");
      rejectMissing(tree.path("vision"), Vision.class, "vision.");
      for (int i = 0; i < tree.path("curriculum").size(); i++) {
        rejectMissing(tree.path("curriculum").get(i), Stage.class, "curriculum[" + i + "].");
      }
      return EngineConfig.mapper().treeToValue(tree, TrainSpec.class);
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(path(e), "unknown key", e);
    } catch (JsonMappingException e) {
      throw new ConfigException(path(e), "invalid or missing value: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new ConfigException(file.toString(), "cannot read: " + e.getMessage(), e);
    }
  }

  private static void rejectUnknown(
      com.fasterxml.jackson.databind.JsonNode node, Class<?> record, String prefix) {
    java.util.Set<String> known =
        java.util.Arrays.stream(record.getRecordComponents())
            .map(java.lang.reflect.RecordComponent::getName)
            .collect(Collectors.toSet());
    node.fieldNames()
        .forEachRemaining(
            name -> {
              if (!known.contains(name)) {
                throw new ConfigException(
                    prefix + name, "unknown key (known: " + new java.util.TreeSet<>(known) + ")");
              }
            });
  }

  private static void rejectMissing(
      com.fasterxml.jackson.databind.JsonNode node, Class<?> record, String prefix) {
    if (!node.isObject()) {
      return; // a whole section missing: toConfig names it
    }
    for (java.lang.reflect.RecordComponent c : record.getRecordComponents()) {
      if (!node.has(c.getName())) {
        throw new ConfigException(prefix + c.getName(), "missing key (every key is required)");
      }
    }
  }

  private static String path(JsonMappingException e) {
    return e.getPath().stream()
        .map(r -> r.getFieldName() == null ? "[" + r.getIndex() + "]" : r.getFieldName())
        .collect(Collectors.joining("."));
  }

  TrainConfig toConfig() {
    MqtConfig.KeyMode mode;
    try {
      mode = MqtConfig.KeyMode.valueOf(keyMode.toUpperCase(Locale.ROOT));
    } catch (RuntimeException e) {
      throw new ConfigException("keyMode", "must be positional or content");
    }
    if (world == null) {
      throw new ConfigException("world", "must be set");
    }
    Set<QuestionType> asked = EnumSet.noneOf(QuestionType.class);
    for (String type : world.types() == null ? List.<String>of() : world.types()) {
      try {
        asked.add(QuestionType.valueOf(type.toUpperCase(Locale.ROOT)));
      } catch (RuntimeException e) {
        throw new ConfigException(
            "world.types",
            "unknown question type "
                + type
                + " (known: "
                + Arrays.stream(QuestionType.values()).map(QuestionType::key).toList()
                + ")");
      }
    }
    TrainConfig.QueryInit init;
    try {
      init =
          TrainConfig.QueryInit.valueOf(
              queryInit == null ? "" : queryInit.toUpperCase(Locale.ROOT));
    } catch (RuntimeException e) {
      throw new ConfigException("queryInit", "must be random or pyramid");
    }
    LmConfig.PromptOrder order;
    try {
      order =
          LmConfig.PromptOrder.valueOf(
              promptOrder == null ? "" : promptOrder.toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (RuntimeException e) {
      throw new ConfigException("promptOrder", "must be frames-first or question-first");
    }
    TrainConfig.Trains trained;
    try {
      trained = TrainConfig.Trains.valueOf(trains == null ? "" : trains.toUpperCase(Locale.ROOT));
    } catch (RuntimeException e) {
      throw new ConfigException("trains", "must be all, encoder, llm or budget");
    }
    MqtConfig.Block mqtBlock;
    try {
      mqtBlock = MqtConfig.Block.valueOf(block == null ? "" : block.toUpperCase(Locale.ROOT));
    } catch (RuntimeException e) {
      throw new ConfigException("block", "must be legacy or reference");
    }
    try {
      if (vision == null) {
        throw new ConfigException("vision", "must be set");
      }
      VitConfig.Stem stem;
      try {
        stem = VitConfig.Stem.valueOf(vision.stem().toUpperCase(Locale.ROOT));
      } catch (RuntimeException e) {
        throw new ConfigException("vision.stem", "must be linear or conv");
      }
      EncoderConfig tiny =
          EncoderConfig.tiny(
              mode,
              tokenPositions,
              mqtBlock,
              new VitConfig(
                  world.imageSize(),
                  vision.patchSize(),
                  vision.dim(),
                  vision.layers(),
                  vision.heads(),
                  4,
                  stem));
      WorldConfig w =
          new WorldConfig(
              world.imageSize(),
              world.frames(),
              world.minObjects(),
              world.maxObjects(),
              world.moving(),
              world.appearing(),
              world.checkered(),
              asked);
      return new TrainConfig(
          seed,
          steps,
          visionSteps,
          objectSlots,
          alignmentSteps,
          batchSize,
          learningRate,
          warmupSteps,
          weightDecay,
          clipNorm,
          fixedM,
          questionsPerClip,
          tiny,
          LmConfig.Norm.RMS,
          lmLayers,
          lmHeads,
          lmFfn,
          w,
          new Curriculum(
              (curriculum == null ? List.<Stage>of() : curriculum)
                  .stream().map(s -> new Curriculum.Stage(s.untilStep(), s.maxObjects())).toList()),
          init,
          order,
          freezeVision,
          identityWeight,
          identityPlaces,
          identityMotion,
          identityTokens,
          subjectWeight,
          tokenIndex,
          objectNames,
          nameAttention,
          frameDifference,
          nameSubject,
          mDrawPower,
          mDrawsPerStep,
          distillWeight,
          sandwich,
          mChoices,
          nameSummary,
          summaryTokens,
          budgetEmbedding,
          budgetRateScale,
          budgetNorms,
          budgetAdapterRank,
          budgetLoraRank,
          trained);
    } catch (IllegalArgumentException e) {
      String[] kv = e.getMessage().split(":", 2);
      throw new ConfigException(kv[0], kv.length > 1 ? kv[1].trim() : e.getMessage(), e);
    }
  }
}
