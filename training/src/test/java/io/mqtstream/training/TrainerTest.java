package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.mqtstream.encoder.EncoderConfig;
import io.mqtstream.encoder.MqtConfig;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VitConfig;
import io.mqtstream.reasoner.DecoderLm;
import io.mqtstream.reasoner.LmConfig;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Colour;
import io.mqtstream.world.Shape;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TrainerTest {

  /** A model and world small enough for tens of steps in seconds: 32×32 clips of 2 frames. */
  static TrainConfig tiny(int steps) {
    return tiny(steps, 0);
  }

  /** The same with a stage 0 of {@code visionSteps} first (within {@code steps}). */
  static TrainConfig tiny(int steps, int visionSteps) {
    return tiny(steps, visionSteps, false);
  }

  static TrainConfig tiny(int steps, int visionSteps, boolean objectSlots) {
    return tiny(steps, visionSteps, objectSlots, new WorldConfig(32, 2, 1, 2, 0.5, 0.3, 0.0, null));
  }

  /** The same in another world of 32-pixel frames. */
  static TrainConfig tiny(int steps, int visionSteps, boolean objectSlots, WorldConfig world) {
    VitConfig vit = new VitConfig(32, 8, 32, 1, 2, 2);
    EncoderConfig enc =
        new EncoderConfig(
            "test",
            vit,
            new MqtConfig(8, 32, 2, 32, vit.patches(), 32, MqtConfig.KeyMode.POSITIONAL, true),
            new float[] {0.5f, 0.5f, 0.5f},
            new float[] {0.25f, 0.25f, 0.25f});
    return new TrainConfig(
        5,
        steps,
        visionSteps,
        objectSlots,
        2,
        8,
        3e-3f,
        3,
        0.01f,
        1.0f,
        0,
        2,
        enc,
        LmConfig.Norm.RMS,
        1,
        2,
        64,
        world,
        Curriculum.NONE,
        TrainConfig.QueryInit.RANDOM,
        LmConfig.PromptOrder.FRAMES_FIRST,
        false,
        0f,
        false,
        0f,
        0f,
        0f,
        false,
        false,
        0f,
        false,
        0f,
        0f,
        1,
        0f,
        false,
        List.of(),
        false,
        1,
        false,
        1f,
        List.of(),
        0,
        0,
        TrainConfig.Trains.ALL);
  }

  @Test
  void aShortRunLowersTheLoss(@TempDir Path dir) throws Exception {
    List<Float> losses = new ArrayList<>();
    try (Trainer t = Trainer.create(tiny(40), dir)) {
      for (int i = 0; i < 40; i++) {
        Trainer.StepResult r = t.step();
        losses.add(r.loss());
        assertThat(r.m() % 2).as("m is even").isZero();
        assertThat(r.m()).isBetween(2, 8);
      }
    }
    assertLossFalls(losses);
  }

  /**
   * The same run with the question standing elsewhere, the backbone frozen after stage 0 or not,
   * another number of LM layers.
   */
  static TrainConfig variant(
      TrainConfig c, LmConfig.PromptOrder order, boolean freezeVision, int lmLayers) {
    return variant(
        c,
        order,
        freezeVision,
        lmLayers,
        c.identityWeight(),
        c.identityPlaces(),
        c.identityMotion());
  }

  static TrainConfig variant(
      TrainConfig c,
      LmConfig.PromptOrder order,
      boolean freezeVision,
      int lmLayers,
      float identityWeight,
      boolean identityPlaces,
      float identityMotion) {
    return copy(
        c,
        c.encoder(),
        order,
        freezeVision,
        lmLayers,
        identityWeight,
        identityPlaces,
        identityMotion,
        c.identityTokens(),
        c.subjectWeight(),
        c.tokenIndex(),
        c.objectNames(),
        c.nameAttention());
  }

  private static TrainConfig copy(
      TrainConfig c,
      EncoderConfig encoder,
      LmConfig.PromptOrder order,
      boolean freezeVision,
      int lmLayers,
      float identityWeight,
      boolean identityPlaces,
      float identityMotion,
      float identityTokens,
      float subjectWeight,
      boolean tokenIndex,
      boolean objectNames,
      float nameAttention) {
    return new TrainConfig(
        c.seed(),
        c.steps(),
        c.visionSteps(),
        c.objectSlots(),
        c.alignmentSteps(),
        c.batchSize(),
        c.learningRate(),
        c.warmupSteps(),
        c.weightDecay(),
        c.clipNorm(),
        c.fixedM(),
        c.questionsPerClip(),
        encoder,
        c.norm(),
        lmLayers,
        c.lmHeads(),
        c.lmFfn(),
        c.world(),
        c.curriculum(),
        c.queryInit(),
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
        c.frameDifference(),
        c.nameSubject(),
        c.mDrawPower(),
        c.mDrawsPerStep(),
        c.distillWeight(),
        c.sandwich(),
        c.mChoices(),
        c.nameSummary(),
        c.summaryTokens(),
        c.budgetEmbedding(),
        c.budgetRateScale(),
        c.budgetNorms(),
        c.budgetAdapterRank(),
        c.budgetLoraRank(),
        c.trains());
  }

  /**
   * A start that adds per-budget maps of one kind (adapters or LoRA): every weight the model had
   * kept; the maps' zero halves (adapters' up, LoRA's B) added at zero and the random ones drawn
   * from the run's seed, so two starts begin alike; each step trains the zero halves of its own m's
   * set alone, so the set of m = 8, never drawn, keeps adding nothing; the saved run resumes with
   * them and is refused without them.
   */
  private static void assertPerBudgetMapsAdded(
      TrainConfig withMaps,
      TrainConfig without,
      Path dir,
      Map<String, float[]> trained,
      java.util.function.Predicate<String> isMap,
      String zeroEnd,
      int zeroMaps,
      String refusal)
      throws Exception {
    Path saved = dir.resolve("maps-" + zeroEnd);
    Map<String, float[]> firstStart;
    try (Trainer t = Trainer.startFrom(withMaps, dir.resolve("model"))) {
      firstStart = snapshot(t);
    }
    try (Trainer t = Trainer.startFrom(withMaps, dir.resolve("model"))) {
      Map<String, float[]> start = snapshot(t);
      trained.forEach((name, values) -> assertThat(start.get(name)).as(name).isEqualTo(values));
      List<String> maps = start.keySet().stream().filter(isMap).sorted().toList();
      List<String> zeros = maps.stream().filter(a -> a.endsWith(zeroEnd)).toList();
      assertThat(zeros).hasSize(zeroMaps);
      assertThat(maps).hasSize(2 * zeroMaps);
      for (String a : maps) {
        float[] values = start.get(a);
        // three sets of rank-2 maps of the LM's width or its MLP's (the adapters' 3 × 32 × 2)
        int width = values.length / (3 * 2);
        assertThat(values).as(a).hasSize(3 * 2 * width);
        assertThat(width).as(a).isIn(withMaps.encoder().mqt().outputDim(), withMaps.lmFfn());
        assertThat(values).as(a).isEqualTo(firstStart.get(a));
        if (zeros.contains(a)) {
          assertThat(values).as(a).containsOnly(0f);
        } else {
          assertThat(values).as(a).isNotEqualTo(new float[values.length]);
        }
      }
      java.util.Set<Integer> drawn = stepsDrawingSets(t, 4);
      assertOnlyDrawnSetsMoved(snapshot(t), zeros, 3, drawn);
      assertThat(drawn).doesNotContain(2).isNotEmpty();
      t.save(saved);
    }
    assertThatThrownBy(() -> Trainer.resume(without, saved).close()).hasMessageContaining(refusal);
    Trainer.resume(withMaps, saved).close();
  }

  static TrainConfig withOrder(TrainConfig c, LmConfig.PromptOrder order) {
    return variant(c, order, c.freezeVision(), c.lmLayers());
  }

  @Test
  void withTheQuestionFirstAShortRunLowersTheLossToo(@TempDir Path dir) throws Exception {
    TrainConfig c = withOrder(tiny(40), LmConfig.PromptOrder.QUESTION_FIRST);
    List<Float> losses = new ArrayList<>();
    try (Trainer t = Trainer.create(c, dir)) {
      assertThat(t.reasoner().config().promptOrder())
          .isEqualTo(LmConfig.PromptOrder.QUESTION_FIRST);
      for (int i = 0; i < 40; i++) {
        losses.add(t.step().loss());
      }
    }
    assertLossFalls(losses);
  }

  /**
   * The identity loss makes the tokens say which objects a frame shows: on held-out clips its
   * cross-entropy falls below that of the best constant guess (each identity's frequency on those
   * very frames, an optimistic constant), which reading nothing from the tokens cannot do.
   */
  @Test
  void theIdentityLossTeachesTheTokensWhichObjectsAFrameShows(@TempDir Path dir) throws Exception {
    TrainConfig c = withIdentity(tiny(240), 1f);
    List<Clip> heldOut = heldOut(c);
    float[][] errors = identityErrorsBeforeAndAfter(c, heldOut, dir);
    assertThat(errors[1][0])
        .isLessThan(errors[0][0])
        .isLessThan((float) bestConstantCrossEntropy(heldOut));
  }

  /**
   * With {@code identityPlaces} the head also reads where each shown object is: on held-out clips
   * its squared error falls below that of guessing each identity's mean place on those very frames.
   */
  @Test
  void identityPlacesTeachTheTokensWhereEachObjectIs(@TempDir Path dir) throws Exception {
    TrainConfig c = variant(tiny(800), LmConfig.PromptOrder.FRAMES_FIRST, false, 1, 1f, true, 0f);
    List<Clip> heldOut = heldOut(c);
    float[][] errors = identityErrorsBeforeAndAfter(c, heldOut, dir);
    assertThat(errors[1][1])
        .isLessThan(errors[0][1])
        .isLessThan((float) bestConstantPlaceError(heldOut));
  }

  /**
   * A run with {@code identityMotion} trains its motion read through the tokens (whether the read
   * can learn motion from tokens that hold places is {@link IdentityHeadTest}'s; this tiny
   * encoder's 32-wide tokens do not get below a constant guess in a test's time).
   */
  @Test
  void aRunWithIdentityMotionTrainsItsMotionRead(@TempDir Path dir) throws Exception {
    TrainConfig c = variant(tiny(200), LmConfig.PromptOrder.FRAMES_FIRST, false, 1, 1f, true, 1f);
    float[][] errors = identityErrorsBeforeAndAfter(c, heldOut(c), dir);
    assertThat(errors[0][2]).isFinite();
    assertThat(errors[1][2]).isLessThan(errors[0][2]);
  }

  /**
   * A run with {@code subjectWeight} trains its read of the named object's places from the LM's
   * states, and the read's gradient reaches the LM: the same steps without it leave other LM
   * weights. (Whether the head reads places from states that hold them, and only the named
   * object's, is {@link SubjectHeadTest}'s; this 1-layer, 32-wide LM does not get below a constant
   * guess in a test's time: 1,000 steps gave 0.198 against 0.191.)
   */
  @Test
  void aRunWithASubjectHeadTrainsItsReadThroughTheLm(@TempDir Path dir) throws Exception {
    TrainConfig c = withSubject(tiny(100), 1f);
    List<Clip> heldOut = heldOut(c);
    Map<String, float[]> with;
    try (Trainer t = Trainer.create(c, dir.resolve("with"))) {
      float before = t.subjectError(heldOut, 8);
      for (int i = 0; i < c.steps(); i++) {
        t.step();
      }
      assertThat(t.subjectError(heldOut, 8)).isLessThan(before);
      with = snapshot(t);
    }
    Map<String, float[]> without;
    try (Trainer t = Trainer.create(withSubject(c, 0f), dir.resolve("without"))) {
      for (int i = 0; i < c.steps(); i++) {
        t.step();
      }
      without = snapshot(t);
      assertThatThrownBy(() -> t.subjectError(heldOut, 8))
          .isInstanceOf(IllegalStateException.class);
    }
    for (String lmWeight : List.of("llm.layers.0.attn.q_proj.weight", "llm.norm.weight")) {
      assertThat(with).containsKey(lmWeight);
      assertThat(with.get(lmWeight)).as(lmWeight).isNotEqualTo(without.get(lmWeight));
    }
  }

  /** 64 test clips of the run's world. */
  private static List<Clip> heldOut(TrainConfig c) {
    SyntheticWorld world = new SyntheticWorld(c.world());
    return java.util.stream.IntStream.range(0, 64)
        .mapToObj(i -> world.clip(Split.TEST.seed(i)))
        .toList();
  }

  /** The identity head's errors on {@code heldOut} at m = 8 before and after all of c's steps. */
  private static float[][] identityErrorsBeforeAndAfter(TrainConfig c, List<Clip> heldOut, Path dir)
      throws Exception {
    try (Trainer t = Trainer.create(c, dir)) {
      float[] before = t.identityErrors(heldOut, 8);
      for (int i = 0; i < c.steps(); i++) {
        t.step();
      }
      return new float[][] {before, t.identityErrors(heldOut, 8)};
    }
  }

  /** Mean squared error per coordinate of guessing each identity's mean place over its frames. */
  private static double bestConstantPlaceError(List<Clip> clips) {
    return IdentityHeadTest.bestConstantError(
        clips,
        0,
        (clip, f, o) ->
            new double[] {2 * o.x(f) / clip.imageSize() - 1, 2 * o.y(f) / clip.imageSize() - 1});
  }

  /** The identity head and its optimizer state travel with the checkpoint. */
  @Test
  void aResumedRunKeepsItsIdentityHead(@TempDir Path dir) throws Exception {
    TrainConfig c = withIdentity(tiny(8), 1f);
    SyntheticWorld world = new SyntheticWorld(c.world());
    List<Clip> heldOut = List.of(world.clip(Split.TEST.seed(0)), world.clip(Split.TEST.seed(1)));
    float saved;
    try (Trainer t = Trainer.create(c, dir.resolve("run"))) {
      for (int i = 0; i < 4; i++) {
        t.step();
      }
      t.save(dir.resolve("step-4"));
      saved = t.identityErrors(heldOut, 4)[0];
    }
    try (Trainer t = Trainer.resume(c, dir.resolve("step-4"))) {
      assertThat(t.identityErrors(heldOut, 4)[0]).isEqualTo(saved);
      t.step();
    }
  }

  /**
   * A run started from a model is as reproducible as a fresh one: the heads it adds start from its
   * seed, so two such runs of one config begin with the same heads and take the same steps.
   */
  @Test
  void twoRunsStartedFromOneModelWithOneSeedAreTheSameRun(@TempDir Path dir) throws Exception {
    TrainConfig c = tiny(8);
    try (Trainer t = Trainer.create(c, dir.resolve("run"))) {
      t.step();
      t.save(dir.resolve("model"));
    }
    TrainConfig identity = withIdentity(c, 1f); // the head is new: it starts fresh
    SyntheticWorld world = new SyntheticWorld(c.world());
    List<Clip> heldOut = List.of(world.clip(Split.TEST.seed(0)), world.clip(Split.TEST.seed(1)));
    List<float[]> heads = new ArrayList<>();
    List<Map<String, float[]>> afterTwoSteps = new ArrayList<>();
    for (int run = 0; run < 2; run++) {
      try (Trainer t = Trainer.startFrom(identity, dir.resolve("model"))) {
        heads.add(t.identityErrors(heldOut, 4));
        t.step();
        t.step();
        afterTwoSteps.add(snapshot(t));
      }
    }
    assertThat(heads.get(1)).isEqualTo(heads.get(0));
    Map<String, float[]> a = afterTwoSteps.get(0);
    Map<String, float[]> b = afterTwoSteps.get(1);
    for (String name : a.keySet()) {
      for (int i = 0; i < a.get(name).length; i++) {
        // as resumesExactly: a head drawn otherwise moves weights by about a learning rate
        assertThat(Math.abs(a.get(name)[i] - b.get(name)[i])).as(name).isLessThan(1e-4f);
      }
    }
  }

  /**
   * Fine-tuning: a run started from a saved model begins at step 0 with that model's weights (not
   * fresh ones) and a fresh schedule, and trains them on.
   */
  @Test
  void aRunStartedFromAModelBeginsWithItsWeightsAtStepZero(@TempDir Path dir) throws Exception {
    TrainConfig c = tiny(8);
    Map<String, float[]> trained;
    float firstRate;
    try (Trainer t = Trainer.create(c, dir.resolve("run"))) {
      firstRate = t.step().learningRate();
      for (int i = 1; i < 4; i++) {
        t.step();
      }
      t.save(dir.resolve("ckpt"));
      trained = snapshot(t);
    }
    // the shipped-model layout (models/mqt-tiny): the models only, no optimizer state, no step
    for (String part : List.of("encoder", "llm")) {
      Path to = Files.createDirectories(dir.resolve("model").resolve(part));
      try (var files = Files.list(dir.resolve("ckpt").resolve(part))) {
        for (Path f : files.toList()) {
          Files.copy(f, to.resolve(f.getFileName()));
        }
      }
    }
    TrainConfig identity = withIdentity(c, 1f); // the head is new: it starts fresh
    try (Trainer t = Trainer.startFrom(identity, dir.resolve("model"))) {
      assertThat(t.stepsTaken()).isZero();
      Map<String, float[]> start = snapshot(t);
      assertThat(start.keySet()).isEqualTo(trained.keySet());
      trained.forEach((name, values) -> assertThat(start.get(name)).as(name).isEqualTo(values));
      Trainer.StepResult first = t.step();
      assertThat(first.step()).isZero();
      assertThat(first.learningRate()).isEqualTo(firstRate);
      assertThat(snapshot(t).get("llm.embed_tokens.weight"))
          .isNotEqualTo(trained.get("llm.embed_tokens.weight"));
    }
    // the question moved first: the same weights, read in the new order, which is saved with them;
    // a resumed run must keep that order
    TrainConfig questionFirst = withOrder(c, LmConfig.PromptOrder.QUESTION_FIRST);
    try (Trainer t = Trainer.startFrom(questionFirst, dir.resolve("model"))) {
      Map<String, float[]> start = snapshot(t);
      trained.forEach((name, values) -> assertThat(start.get(name)).as(name).isEqualTo(values));
      stepAndSaveQuestionFirst(t, dir.resolve("question-first"));
    }
    assertThatThrownBy(() -> Trainer.resume(c, dir.resolve("question-first")).close())
        .hasMessageStartingWith("train.promptOrder")
        .hasMessageContaining("QUESTION_FIRST");
    // a deeper LM: the model's weights kept, a layer added on top that trains from the first step
    TrainConfig deeper = variant(c, c.promptOrder(), c.freezeVision(), c.lmLayers() + 1);
    String added = "llm.layers." + c.lmLayers() + ".attn.o_proj.weight";
    try (Trainer t = Trainer.startFrom(deeper, dir.resolve("model"))) {
      Map<String, float[]> start = snapshot(t);
      trained.forEach((name, values) -> assertThat(start.get(name)).as(name).isEqualTo(values));
      assertThat(start.get(added)).containsOnly(0f);
      t.step();
      assertThat(snapshot(t).get(added)).isNotEqualTo(start.get(added));
    }
    // a token-index embedding, and a frame-difference map: each added at zero to the model's
    // weights, trained from the first step, saved, and kept by a resumed run
    addsAtZeroAndKeeps(
        c, withTokenIndex(c), dir, trained, "llm.embed_token_index.weight", 8 * 32, "tokenIndex");
    addsAtZeroAndKeeps(
        c,
        withFrameDifference(c),
        dir,
        trained,
        "llm.embed_frame_difference.weight",
        32 * 32,
        "frameDifference");
    // a budget embedding: added at zero and kept the same way; each step trains the row of its own
    // m alone (the engine's budget is the frame's token count), so rows of budgets never drawn stay
    // zero, the odd ones among them
    String budget = "llm.embed_budget.weight";
    addsAtZeroAndKeeps(c, withBudget(c), dir, trained, budget, 8 * 32, "budgetEmbedding");
    try (Trainer t = Trainer.startFrom(withBudget(c), dir.resolve("model"))) {
      java.util.Set<Integer> drawn = new java.util.TreeSet<>();
      for (int i = 0; i < 4; i++) {
        drawn.add(t.step().m());
      }
      float[] rows = snapshot(t).get(budget);
      for (int m = 1; m <= 8; m++) {
        float[] row = Arrays.copyOfRange(rows, (m - 1) * 32, m * 32);
        if (drawn.contains(m)) {
          assertThat(row).as("row of m = %d, drawn in %s", m, drawn).isNotEqualTo(new float[32]);
        } else {
          assertThat(row).as("row of m = %d, not drawn in %s", m, drawn).containsOnly(0f);
        }
      }
      assertThat(drawn).as("some budget below M is drawn").anyMatch(m -> m < 8);
    }
    // switchable norms (sets m = 1-3, 4-7, 8): added at zero to every norm of the LM, kept the
    // same way; each step trains the gains of its own m's set alone, so the set of m = 8, never
    // drawn from mChoices [2, 4] (and no alignment steps, which train at M), stays zero
    TrainConfig normed =
        changed(
            changed(withBudgetNorms(c, List.of(1, 4, 8)), "mChoices", List.of(2, 4)),
            "alignmentSteps",
            0);
    Path savedNorms = dir.resolve("budgetNorms");
    try (Trainer t = Trainer.startFrom(normed, dir.resolve("model"))) {
      Map<String, float[]> start = snapshot(t);
      trained.forEach((name, values) -> assertThat(start.get(name)).as(name).isEqualTo(values));
      List<String> gains =
          start.keySet().stream().filter(Reasoner::isNormBudgetGain).sorted().toList();
      assertThat(gains).hasSize(2 * c.lmLayers() + 1);
      gains.forEach(g -> assertThat(start.get(g)).as(g).hasSize(3 * 32).containsOnly(0f));
      java.util.Set<Integer> drawn = stepsDrawingSets(t, 4);
      assertOnlyDrawnSetsMoved(snapshot(t), gains, 3, drawn);
      assertThat(drawn).doesNotContain(2).isNotEmpty();
      t.save(savedNorms);
    }
    assertThatThrownBy(() -> Trainer.resume(c, savedNorms).close())
        .hasMessageContaining("train.budgetNorms [] (checkpoint: [1, 4, 8])");
    Trainer.resume(normed, savedNorms).close();
    // per-budget adapters and per-budget LoRA (rank 2, on the same sets), each kept the same way
    assertPerBudgetMapsAdded(
        changed(normed, "budgetAdapterRank", 2),
        normed,
        dir,
        trained,
        Reasoner::isBudgetAdapter,
        "_up",
        c.lmLayers(),
        "train.budgetAdapterRank 0 (checkpoint: 2)");
    assertPerBudgetMapsAdded(
        changed(normed, "budgetLoraRank", 2),
        normed,
        dir,
        trained,
        Reasoner::isBudgetLora,
        "_b",
        7 * c.lmLayers(), // q, k, v, o, gate, up, down
        "train.budgetLoraRank 0 (checkpoint: 2)");
    // object names as one token each: every other weight kept, the tokenizer and the embedding
    // grown by the 15 names; questions that name an object read it as one token; the names train,
    // are saved, and a run resumed or started without them is refused
    String embed = "llm.embed_tokens.weight";
    int names = SyntheticWorld.objectNames().size();
    try (Trainer t = Trainer.startFrom(withObjectNames(c), dir.resolve("model"))) {
      Map<String, float[]> start = snapshot(t);
      trained.forEach(
          (name, values) -> {
            if (!name.equals(embed)) {
              assertThat(start.get(name)).as(name).isEqualTo(values);
            }
          });
      int old = trained.get(embed).length / 32;
      assertThat(start.get(embed)).hasSize((old + names) * 32);
      assertThat(t.reasoner().tokenizer().encode("is the red circle on the left or the right?"))
          .hasSize(10)
          .contains(old);
      t.step();
      assertThat(Arrays.copyOfRange(snapshot(t).get(embed), old * 32, (old + names) * 32))
          .isNotEqualTo(Arrays.copyOfRange(start.get(embed), old * 32, (old + names) * 32));
      t.save(dir.resolve("named"));
    }
    assertThatThrownBy(() -> Trainer.resume(c, dir.resolve("named")).close())
        .hasMessageStartingWith("train.objectNames: false");
    assertThatThrownBy(() -> Trainer.startFrom(c, dir.resolve("named")).close())
        .hasMessageStartingWith("train.objectNames: false");
    Trainer.resume(withObjectNames(c), dir.resolve("named")).close();
    try (Trainer fresh = Trainer.create(withObjectNames(c), dir.resolve("fresh"))) {
      assertThat(fresh.reasoner().config().vocab())
          .isEqualTo(trained.get(embed).length / 32 + names);
    }
    // keys that see the patches: the model's weights kept, and the same weights now give other
    // tokens, since the keys read the features as well as the positions
    TrainConfig content = withEncoder(c, c.encoder().withKeyMode(MqtConfig.KeyMode.CONTENT));
    try (Trainer t = Trainer.startFrom(content, dir.resolve("model"));
        MqtEncoder positional = MqtEncoder.load(dir.resolve("model").resolve("encoder"));
        NDManager scope = NDManager.newBaseManager()) {
      Map<String, float[]> start = snapshot(t);
      trained.forEach((name, values) -> assertThat(start.get(name)).as(name).isEqualTo(values));
      assertThat(t.encoder().config().mqt().keyMode()).isEqualTo(MqtConfig.KeyMode.CONTENT);
      NDArray images = scope.randomNormal(new ai.djl.ndarray.types.Shape(2, 3, 32, 32));
      ParameterStore ps = new ParameterStore(scope, false);
      float[] seeing = t.encoder().forward(ps, images, 8, false).toFloatArray();
      float[] placing = positional.forward(ps, images, 8, false).toFloatArray();
      assertThat(seeing).hasSameSizeAs(placing).isNotEqualTo(placing);
      t.save(dir.resolve("content"));
    }
    // a resumed run keeps its keys
    assertThatThrownBy(() -> Trainer.resume(content, dir.resolve("ckpt")).close())
        .hasMessageContaining("keyMode");
    assertThat(
            EncoderConfig.read(dir.resolve("content").resolve("encoder").resolve("config.json"))
                .mqt()
                .keyMode())
        .isEqualTo(MqtConfig.KeyMode.CONTENT);
  }

  /** The same run on another encoder. */
  static TrainConfig withEncoder(TrainConfig c, EncoderConfig encoder) {
    return with(c, encoder, c.subjectWeight());
  }

  /**
   * The same run with M = 16 latent queries (a summary token and one per identity), content keys,
   * the identity head with places, {@code motion}, and its reads of each identity's token.
   */
  static TrainConfig withIdentityTokens(TrainConfig c, float motion) {
    TrainConfig sixteen = withSixteenQueries(c);
    return copy(
        sixteen,
        sixteen.encoder().withKeyMode(MqtConfig.KeyMode.CONTENT),
        sixteen.promptOrder(),
        sixteen.freezeVision(),
        sixteen.lmLayers(),
        1f,
        true,
        motion,
        1f,
        sixteen.subjectWeight(),
        sixteen.tokenIndex(),
        sixteen.objectNames(),
        sixteen.nameAttention());
  }

  /** The same run with the name-subject read at {@code weight}. */
  static TrainConfig withNameSubject(TrainConfig c, float weight) {
    return changed(c, "nameSubject", weight);
  }

  /**
   * {@code grown} (c with the key {@code key} on) started from {@code dir/model}: every weight of
   * the model as {@code trained}, and {@code added} ({@code size} values) at zero; one step moves
   * it; saved, a resume with {@code c} is refused naming the key and one with {@code grown} goes
   * on.
   */
  private static void addsAtZeroAndKeeps(
      TrainConfig c,
      TrainConfig grown,
      Path dir,
      Map<String, float[]> trained,
      String added,
      int size,
      String key)
      throws Exception {
    Path saved = dir.resolve(key);
    try (Trainer t = Trainer.startFrom(grown, dir.resolve("model"))) {
      Map<String, float[]> start = snapshot(t);
      trained.forEach((name, values) -> assertThat(start.get(name)).as(name).isEqualTo(values));
      assertThat(start.get(added)).hasSize(size).containsOnly(0f);
      t.step();
      assertThat(snapshot(t).get(added)).isNotEqualTo(start.get(added));
      t.save(saved);
    }
    assertThatThrownBy(() -> Trainer.resume(c, saved).close())
        .hasMessageContaining("train." + key + " false (checkpoint: true)");
    Trainer.resume(grown, saved).close();
  }

  /**
   * {@code budgetRateScale}: two runs alike but for it take the same first step (same seed, same
   * gradients), and it moves the budget embedding's every element, or every norm's per-budget
   * gains, exactly that many times as far (Adam's step, weight decay included, is scaled by the
   * rate), every other weight the same distance. Without either, or at 0, the key fails naming
   * itself.
   */
  @Test
  void theBudgetRateScaleMovesTheBudgetMapsThatManyTimesAsFar(@TempDir Path dir) throws Exception {
    assertTenTimesAsFar(
        withBudget(tiny(4)), dir.resolve("embedding"), "llm.embed_budget.weight"::equals);
    assertTenTimesAsFar(
        withBudgetNorms(tiny(4), List.of(1, 4)), dir.resolve("norms"), Reasoner::isNormBudgetGain);
    assertTenTimesAsFar(
        changed(withBudgetNorms(tiny(4), List.of(1, 4)), "budgetAdapterRank", 2),
        dir.resolve("adapters"),
        n -> Reasoner.isNormBudgetGain(n) || Reasoner.isBudgetAdapter(n));
    assertTenTimesAsFar(
        changed(withBudgetNorms(tiny(4), List.of(1, 4)), "budgetLoraRank", 2),
        dir.resolve("lora"),
        n -> Reasoner.isNormBudgetGain(n) || Reasoner.isBudgetLora(n));
    assertThatThrownBy(() -> changed(tiny(4), "budgetLoraRank", 2))
        .as("LoRA needs the sets of budgetNorms")
        .hasMessageStartingWith("train.budgetLoraRank: must be 0, or >= 1 with budgetNorms");
    assertThatThrownBy(() -> changed(tiny(4), "budgetAdapterRank", 2))
        .as("adapters need the sets of budgetNorms")
        .hasMessageStartingWith("train.budgetAdapterRank: must be 0, or >= 1 with budgetNorms");
    assertThatThrownBy(
            () -> changed(withBudgetNorms(tiny(4), List.of(1, 4)), "budgetAdapterRank", -1))
        .hasMessageStartingWith("train.budgetAdapterRank");
    assertThatThrownBy(() -> changed(tiny(4), "budgetRateScale", 10f))
        .hasMessageStartingWith("train.budgetRateScale: 10.0 needs budgetEmbedding or budgetNorms");
    assertThatThrownBy(() -> changed(withBudget(tiny(4)), "budgetRateScale", 0f))
        .hasMessageStartingWith("train.budgetRateScale");
    assertThatThrownBy(() -> withBudgetNorms(tiny(4), List.of(4, 2)))
        .hasMessageStartingWith("train.budgetNorms: must ascend");
    assertThatThrownBy(() -> withBudgetNorms(tiny(4), List.of(1, 9)))
        .as("above M = 8")
        .hasMessageStartingWith("train.budgetNorms: must ascend, each in 1..8");
  }

  /**
   * One step of {@code one} and of {@code one} at {@code budgetRateScale} 10 moves each weight
   * {@code scaled} names ten times as far, every other the same, and moves some scaled element.
   */
  private static void assertTenTimesAsFar(
      TrainConfig one, Path dir, java.util.function.Predicate<String> scaled) throws Exception {
    TrainConfig ten = changed(one, "budgetRateScale", 10f);
    Map<String, float[]> start;
    Map<String, float[]> afterOne;
    Map<String, float[]> afterTen;
    try (Trainer t = Trainer.create(one, dir.resolve("one"))) {
      start = snapshot(t);
      t.step();
      afterOne = snapshot(t);
    }
    try (Trainer t = Trainer.create(ten, dir.resolve("ten"))) {
      Map<String, float[]> startTen = snapshot(t);
      assertThat(startTen).containsOnlyKeys(start.keySet());
      start.forEach((name, values) -> assertThat(startTen.get(name)).as(name).isEqualTo(values));
      t.step();
      afterTen = snapshot(t);
    }
    int moved = 0;
    int maps = 0;
    for (Map.Entry<String, float[]> e : start.entrySet()) {
      String name = e.getKey();
      float[] before = e.getValue();
      float[] a = afterOne.get(name);
      float[] b = afterTen.get(name);
      if (!scaled.test(name)) {
        assertThat(b).as(name).isEqualTo(a);
        continue;
      }
      maps++;
      for (int i = 0; i < before.length; i++) {
        float d1 = a[i] - before[i];
        float d10 = b[i] - before[i];
        assertThat(d10)
            .as("%s, element %d", name, i)
            .isCloseTo(10 * d1, within(1e-3f * Math.abs(d1) + 1e-7f));
        moved += Math.abs(d1) > 1e-6f ? 1 : 0;
      }
    }
    assertThat(maps).as("weights at the scaled rate").isPositive();
    assertThat(moved).as("elements the first step moved").isGreaterThan(0);
  }

  /**
   * The name-subject read reads where the questions name their object (the LM's input there is a
   * name's embedding, one read per question about a named object whose token is among the first m),
   * and its gradient reaches the LM's first layer, whose gathering it shapes: the same run without
   * it ends with other first-layer weights (the read's own gradient norm is clipped apart from the
   * models', and no step draws from the engine's random numbers, so only its gradient can make them
   * differ). It needs the name loss; that it starts at zero is {@code SubjectHeadTest}'s.
   */
  @Test
  void theNameSubjectReadReadsAtEachNameAndShapesTheFirstLayer(@TempDir Path dir) throws Exception {
    TrainConfig c =
        withNameSubject(
            withNameAttention(
                withTokenIndex(withObjectNames(withIdentityTokens(tiny(20), 0f))), 1f),
            1f);
    List<Clip> heldOut = heldOut(c);
    int m = 16;
    Map<String, float[]> with;
    try (Trainer t = Trainer.create(c, dir.resolve("with"));
        NDManager scope = NDManager.newBaseManager()) {
      ParameterStore ps = new ParameterStore(scope, false);
      DecoderLm lm = t.reasoner().lm();
      int d = lm.config().dim();
      List<float[]> names = new ArrayList<>();
      for (String name : SyntheticWorld.objectNames()) {
        long[] id = t.reasoner().tokenizer().encode(name);
        names.add(lm.embedTokens(ps, scope, new long[][] {id}, false).toFloatArray());
      }
      Trainer.NameLookups l = t.nameLookups(heldOut, m);
      // as many reads as names the attention loss looks from (one per head there)
      assertThat(l.subjectAt()).isNotEmpty().hasSize(l.at().length / c.lmHeads());
      for (long at : l.subjectAt()) {
        float[] input = slice(l.inputs(), at * d, d);
        assertThat(names)
            .as("the input where the read reads")
            .anySatisfy(name -> assertThat(input).containsExactly(name, Offset.offset(1e-6f)));
      }
      assertThat(t.nameSubjectError(heldOut, m)).isPositive();
      for (int i = 0; i < c.steps(); i++) {
        t.step();
      }
      with = snapshot(t);
    }
    Map<String, float[]> without;
    try (Trainer t = Trainer.create(withNameSubject(c, 0f), dir.resolve("without"))) {
      for (int i = 0; i < c.steps(); i++) {
        t.step();
      }
      without = snapshot(t);
      assertThatThrownBy(() -> t.nameSubjectError(heldOut, m))
          .isInstanceOf(IllegalStateException.class);
    }
    String firstLayer = "llm.layers.0.attn.v_proj.weight";
    assertThat(with).containsKey(firstLayer);
    assertThat(with.get(firstLayer)).isNotEqualTo(without.get(firstLayer));
    assertThatThrownBy(() -> withNameSubject(tiny(10), 1f))
        .hasMessageStartingWith("train.nameSubject");
  }

  /**
   * A 2-step run straight into stage 2 with identity tokens, the token index, object names and the
   * name loss at 1: the runs whose name-loss targets the tests read.
   */
  private static TrainConfig nameLossRun() {
    return changed(
        withNameAttention(withTokenIndex(withObjectNames(withIdentityTokens(tiny(2), 0f))), 1f),
        "alignmentSteps",
        0);
  }

  /** The same run with the name loss at {@code weight}. */
  static TrainConfig withNameAttention(TrainConfig c, float weight) {
    return with(c, c.encoder(), c.subjectWeight(), c.tokenIndex(), c.objectNames(), weight);
  }

  /**
   * The name loss pairs each object name in a question with that object's own token: at every
   * target, the LM's input at the looking position is a name's embedding, and at the looked-at
   * position it is token 1 + i (i that name's identity) of frame T − 1 − h, plus the frame's and
   * the token's index embeddings. A run with it then teaches the first layer to look there.
   */
  @Test
  void theNameLossTeachesEachNameToLookAtItsObjectsToken(@TempDir Path dir) throws Exception {
    TrainConfig c =
        withNameAttention(withTokenIndex(withObjectNames(withIdentityTokens(tiny(150), 0f))), 1f);
    List<Clip> heldOut = heldOut(c);
    int m = 16;
    try (Trainer t = Trainer.create(c, dir)) {
      assertThat(lookedAt(t, c, heldOut, m, i -> 1 + i)).isNotEmpty();
      float before = t.nameError(heldOut, m);
      for (int i = 0; i < c.steps(); i++) {
        t.step();
      }
      float after = t.nameError(heldOut, m);
      System.out.printf("name error on held-out clips: %.3f -> %.3f nats%n", before, after);
      assertThat(after).isLessThan(before / 2); // 4.9 → 0.92 when written
    }
    assertThatThrownBy(() -> withNameAttention(tiny(60), 1f))
        .hasMessageStartingWith("train.nameAttention");
  }

  /**
   * With {@code nameSummary} a name whose own token lies beyond m has the name loss's heads look at
   * its frame's summary, token 0, instead of nowhere: at m = 4 every target's looked-at input is
   * token 1 + i of frame T − 1 − h when 1 + i < 4, else token 0 of that frame (plus the frame's and
   * the token's index embeddings); the targets of the names within m are exactly those of the run
   * without the key; at m = M (16 here), where every identity has its token, the two runs' targets
   * are the same. A fixed-m = 4 step then trains the first layer otherwise than without the key.
   */
  @Test
  void withNameSummaryANameBeyondMLooksAtItsFramesSummary(@TempDir Path dir) throws Exception {
    TrainConfig without = changed(nameLossRun(), "fixedM", 4);
    TrainConfig with = changed(without, "nameSummary", true);
    List<Clip> heldOut = heldOut(with);
    int m = 4;
    List<Long> ownTargets = new ArrayList<>();
    List<Long> summaryTargets = new ArrayList<>();
    try (Trainer t = Trainer.create(with, dir.resolve("with"))) {
      lookedAt(t, with, heldOut, m, i -> 1 + i < m ? 1 + i : 0)
          .forEach(
              (at, token) -> {
                if (token == 0) {
                  summaryTargets.add(at);
                } else {
                  ownTargets.add(at);
                }
              });
      assertThat(summaryTargets).as("names beyond m, one target per head").isNotEmpty();
      assertThat(t.nameError(heldOut, m)).isPositive();
      try (Trainer plain = Trainer.create(without, dir.resolve("without"))) {
        assertThat(plain.nameLookups(heldOut, m).at())
            .containsExactly(ownTargets.stream().mapToLong(Long::longValue).toArray());
        assertThat(plain.nameLookups(heldOut, 16).at())
            .isNotEmpty()
            .containsExactly(t.nameLookups(heldOut, 16).at());
        plain.step();
        t.step();
        String firstLayer = "llm.layers.0.attn.k_proj.weight";
        assertThat(snapshot(t).get(firstLayer)).isNotEqualTo(snapshot(plain).get(firstLayer));
      }
    }
    assertThatThrownBy(() -> changed(tiny(2), "nameSummary", true))
        .hasMessageStartingWith("train.nameSummary");
  }

  /**
   * With four summary tokens (20 latent queries here) the name loss looks from each name at its
   * identity's moved token: identities 0 to 2 at tokens 16 to 18, the others at 1 + i, none at
   * tokens 1 to 3; at m = 4 no name has a target; at m = 16 only identities 3 to 14 do. A fixed m =
   * 4 step, which reads no identity's token, has a finite loss and moves the encoder.
   */
  @Test
  void withFourSummaryTokensNamesLookAtTheirMovedTokens(@TempDir Path dir) throws Exception {
    TrainConfig c = changed(withQueries(nameLossRun(), 20), "summaryTokens", 4);
    TokenLayout layout = new TokenLayout(4);
    List<Clip> heldOut = heldOut(c);
    try (Trainer t = Trainer.create(c, dir.resolve("full"))) {
      Map<Long, Integer> full = lookedAt(t, c, heldOut, 20, layout::tokenOf);
      assertThat(full.values()).isNotEmpty().doesNotContain(1, 2, 3).contains(16, 17, 18);
      assertThat(lookedAt(t, c, heldOut, 16, layout::tokenOf).values())
          .isNotEmpty()
          .allMatch(token -> token >= 4 && token < 16);
      assertThat(t.nameLookups(heldOut, 4).at()).isEmpty();
    }
    try (Trainer t = Trainer.create(changed(c, "fixedM", 4), dir.resolve("m4"))) {
      float[] before = snapshot(t).get("mqt.latent_queries");
      Trainer.StepResult r = t.step();
      assertThat(r.m()).isEqualTo(4);
      assertThat(r.loss()).isFinite();
      assertThat(snapshot(t).get("mqt.latent_queries")).isNotEqualTo(before);
    }
    assertThatThrownBy(() -> changed(withIdentityTokens(tiny(2), 0f), "summaryTokens", 4))
        .hasMessageStartingWith("train.summaryTokens")
        .hasMessageContaining("need 19 latent queries");
    assertThatThrownBy(() -> changed(tiny(2), "summaryTokens", 2))
        .hasMessageStartingWith("train.summaryTokens");
    assertThatThrownBy(() -> changed(tiny(2), "summaryTokens", 0))
        .hasMessageStartingWith("train.summaryTokens");
  }

  /**
   * The name loss's targets on {@code heldOut} at {@code m} in order, each with the token it looks
   * at, after checking that it looks from a name's embedding at token {@code tokenOf(i)} (i that
   * name's identity) of frame T − 1 − h: the LM's input there is that token plus the frame's and
   * the token's index embeddings.
   */
  private static Map<Long, Integer> lookedAt(
      Trainer t,
      TrainConfig c,
      List<Clip> heldOut,
      int m,
      java.util.function.IntUnaryOperator tokenOf) {
    int frames = c.world().frames();
    int heads = c.lmHeads();
    Map<Long, Integer> looked = new java.util.LinkedHashMap<>();
    try (NDManager scope = NDManager.newBaseManager()) {
      ParameterStore ps = new ParameterStore(scope, false);
      DecoderLm lm = t.reasoner().lm();
      int d = lm.config().dim();
      Map<Integer, float[]> nameOf = new HashMap<>(); // identity → its name's embedding
      for (Shape shape : Shape.values()) {
        for (Colour colour : Colour.values()) {
          long[] id = t.reasoner().tokenizer().encode(colour.word() + " " + shape.word());
          assertThat(id).hasSize(1);
          nameOf.put(
              PatchTargets.slot(colour, shape),
              lm.embedTokens(ps, scope, new long[][] {id}, false).toFloatArray());
        }
      }
      float[] index = lm.tokenIndex(ps, scope, m, false).toFloatArray(); // (m, D)
      Trainer.NameLookups l = t.nameLookups(heldOut, m);
      for (long at : l.at()) {
        long key = at % l.length();
        long query = at / l.length() % l.length();
        int head = (int) (at / l.length() / l.length() % heads);
        int row = (int) (at / l.length() / l.length() / heads);
        float[] looking = slice(l.inputs(), (row * l.length() + query) * d, d);
        int identity =
            nameOf.entrySet().stream()
                .filter(e -> Arrays.equals(e.getValue(), looking))
                .mapToInt(Map.Entry::getKey)
                .findFirst()
                .orElseThrow(() -> new AssertionError("not a name at " + query));
        int token = tokenOf.applyAsInt(identity);
        int frame = frames - 1 - head;
        float[] tokenValue = slice(l.tokens(), ((row * frames + frame) * m + token) * d, d);
        float[] frameIndex = lm.frameIndex(ps, scope, frame, false).toFloatArray();
        float[] expected = new float[d];
        for (int j = 0; j < d; j++) {
          expected[j] = tokenValue[j] + frameIndex[j] + index[token * d + j];
        }
        assertThat(slice(l.inputs(), (row * l.length() + key) * d, d))
            .containsExactly(expected, Offset.offset(1e-5f));
        looked.put(at, token);
      }
    }
    return looked;
  }

  private static float[] slice(float[] all, long from, int n) {
    return Arrays.copyOfRange(all, (int) from, (int) from + n);
  }

  /** The same run with the LM's subject read at {@code weight}. */
  static TrainConfig withSubject(TrainConfig c, float weight) {
    return with(c, c.encoder(), weight);
  }

  /** The same run with object names as one token each. */
  static TrainConfig withObjectNames(TrainConfig c) {
    return with(c, c.encoder(), c.subjectWeight(), c.tokenIndex(), true, c.nameAttention());
  }

  /** The same run with the LM's frame-difference map. */
  static TrainConfig withFrameDifference(TrainConfig c) {
    return changed(c, "frameDifference", true);
  }

  /** The same run with the LM's budget embedding. */
  static TrainConfig withBudget(TrainConfig c) {
    return changed(c, "budgetEmbedding", true);
  }

  /** Takes {@code steps} steps; the sets m = 1–3, 4–7 and 8 (0, 1, 2) their m fell in. */
  private static java.util.Set<Integer> stepsDrawingSets(Trainer t, int steps) {
    java.util.Set<Integer> drawn = new java.util.TreeSet<>();
    for (int i = 0; i < steps; i++) {
      int m = t.step().m();
      drawn.add(m < 4 ? 0 : m < 8 ? 1 : 2);
    }
    return drawn;
  }

  /**
   * Each of {@code names}, per-set maps laid out set after set ({@code sets} equal blocks), is
   * non-zero in the blocks of the {@code drawn} sets and zero in the others.
   */
  private static void assertOnlyDrawnSetsMoved(
      Map<String, float[]> weights, List<String> names, int sets, java.util.Set<Integer> drawn) {
    for (String name : names) {
      float[] all = weights.get(name);
      int size = all.length / sets;
      for (int set = 0; set < sets; set++) {
        float[] block = Arrays.copyOfRange(all, set * size, (set + 1) * size);
        if (drawn.contains(set)) {
          assertThat(block)
              .as("%s, set %d, drawn in %s", name, set, drawn)
              .isNotEqualTo(new float[size]);
        } else {
          assertThat(block).as("%s, set %d, not drawn in %s", name, set, drawn).containsOnly(0f);
        }
      }
    }
  }

  /** The same run with switchable norms for these budgets. */
  static TrainConfig withBudgetNorms(TrainConfig c, List<Integer> bounds) {
    return changed(c, "budgetNorms", bounds);
  }

  /** {@code c} with one record component, named, set to {@code value}. */
  static TrainConfig changed(TrainConfig c, String component, Object value) {
    java.lang.reflect.RecordComponent[] parts = TrainConfig.class.getRecordComponents();
    Object[] values = new Object[parts.length];
    Class<?>[] types = new Class<?>[parts.length];
    try {
      for (int i = 0; i < parts.length; i++) {
        types[i] = parts[i].getType();
        values[i] = parts[i].getName().equals(component) ? value : parts[i].getAccessor().invoke(c);
      }
      return TrainConfig.class.getDeclaredConstructor(types).newInstance(values);
    } catch (java.lang.reflect.InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException refused) {
        throw refused; // the config's own validation
      }
      throw new IllegalStateException(e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  static TrainConfig withTokenIndex(TrainConfig c) {
    return with(c, c.encoder(), c.subjectWeight(), true, c.objectNames(), c.nameAttention());
  }

  private static TrainConfig with(TrainConfig c, EncoderConfig encoder, float subjectWeight) {
    return with(c, encoder, subjectWeight, c.tokenIndex(), c.objectNames(), c.nameAttention());
  }

  private static TrainConfig with(
      TrainConfig c,
      EncoderConfig encoder,
      float subjectWeight,
      boolean tokenIndex,
      boolean objectNames,
      float nameAttention) {
    return copy(
        c,
        encoder,
        c.promptOrder(),
        c.freezeVision(),
        c.lmLayers(),
        c.identityWeight(),
        c.identityPlaces(),
        c.identityMotion(),
        c.identityTokens(),
        subjectWeight,
        tokenIndex,
        objectNames,
        nameAttention);
  }

  /** The same run with M = 16 latent queries (a summary token and one per identity). */
  static TrainConfig withSixteenQueries(TrainConfig c) {
    return withQueries(c, 16);
  }

  /** The same run with {@code queries} latent queries. */
  static TrainConfig withQueries(TrainConfig c, int queries) {
    EncoderConfig e = c.encoder();
    MqtConfig m = e.mqt();
    return withEncoder(
        c,
        new EncoderConfig(
            e.preset(),
            e.vision(),
            new MqtConfig(
                queries,
                m.dim(),
                m.heads(),
                m.featureDim(),
                m.patches(),
                m.outputDim(),
                m.keyMode(),
                m.tokenPositions(),
                m.block()),
            e.pixelMean(),
            e.pixelStd()));
  }

  /**
   * A run with {@code identityTokens} trains its reads of each identity's own token through the
   * encoder (with content keys, so a latent query can look for an identity): the place error read
   * from the tokens falls (whether the read can learn places from tokens that hold them is {@link
   * IdentityHeadTest}'s).
   */
  @Test
  void aRunWithIdentityTokensTrainsItsReadOfEachIdentitysToken(@TempDir Path dir) throws Exception {
    TrainConfig c = withIdentityTokens(tiny(200), 0f);
    float[][] errors = identityErrorsBeforeAndAfter(c, heldOut(c), dir);
    assertThat(errors[0]).hasSize(6);
    assertThat(errors[0][4]).isFinite();
    assertThat(errors[1][4]).isLessThan(errors[0][4]);
    assertThat(errors[1][3]).isLessThan(errors[0][3]);
  }

  static TrainConfig withIdentity(TrainConfig c, float weight) {
    return variant(c, c.promptOrder(), c.freezeVision(), c.lmLayers(), weight, false, 0f);
  }

  /** Mean over frames and identities of the cross-entropy of guessing each identity's frequency. */
  private static double bestConstantCrossEntropy(List<Clip> clips) {
    int identities = PatchTargets.SLOTS;
    double[] seen = new double[identities];
    int frames = 0;
    for (Clip clip : clips) {
      for (int f = 0; f < clip.frames(); f++) {
        frames++;
        for (io.mqtstream.world.SceneObject o : clip.visibleAt(f)) {
          seen[PatchTargets.slot(o.colour(), o.shape())]++;
        }
      }
    }
    double sum = 0;
    for (double k : seen) {
      double p = k / frames;
      sum -= k * (p > 0 ? Math.log(p) : 0) + (frames - k) * (p < 1 ? Math.log(1 - p) : 0);
    }
    return sum / ((double) frames * identities);
  }

  /** With {@code freezeVision} stage 0 trains the backbone, and stages 1 and 2 leave it there. */
  @Test
  void aFrozenBackboneKeepsStageZerosWeightsWhileTheRestTrains(@TempDir Path dir) throws Exception {
    TrainConfig c = tiny(8, 3);
    TrainConfig frozen = variant(c, c.promptOrder(), true, c.lmLayers());
    try (Trainer t = Trainer.create(frozen, dir)) {
      Map<String, float[]> start = snapshot(t);
      for (int i = 0; i < 3; i++) {
        t.step();
      }
      Map<String, float[]> endOfStage0 = snapshot(t);
      for (int i = 3; i < 8; i++) {
        t.step();
      }
      Map<String, float[]> end = snapshot(t);
      t.encoder()
          .parameters()
          .forEach(
              (name, p) ->
                  assertThat(p.getArray().hasGradient())
                      .as("%s carries a gradient after stage 0", name)
                      .isEqualTo(!name.startsWith("vision.") && p.requiresGradient()));
      int moved = 0;
      for (String name : start.keySet()) {
        if (name.startsWith("vision.")) {
          assertThat(end.get(name)).as(name).isEqualTo(endOfStage0.get(name));
          moved += java.util.Arrays.equals(start.get(name), endOfStage0.get(name)) ? 0 : 1;
        } else if (name.startsWith("mqt.latent") || name.startsWith("llm.embed_tokens")) {
          assertThat(end.get(name)).as(name).isNotEqualTo(endOfStage0.get(name));
        }
      }
      assertThat(moved).as("backbone tensors stage 0 moved").isPositive();
    }
  }

  /**
   * {@code trains}: a run of the encoder alone leaves every LM weight where it started while the
   * encoder's tensors move, a run of the LM alone the other way round, and a run of the per-budget
   * maps alone (here switchable norms, adapters and LoRA) every weight but those.
   */
  @ParameterizedTest
  @EnumSource(
      value = TrainConfig.Trains.class,
      names = {"ENCODER", "LLM", "BUDGET"})
  void aRunOfOneModelAloneKeepsTheOthersWeights(TrainConfig.Trains trains, @TempDir Path dir)
      throws Exception {
    TrainConfig c =
        changed(
            changed(
                changed(withBudgetNorms(tiny(3), List.of(1, 4, 8)), "budgetAdapterRank", 2),
                "budgetLoraRank",
                2),
            "trains",
            trains);
    try (Trainer t = Trainer.create(c, dir)) {
      java.util.Set<String> encoderWeights = t.encoder().parameters().keySet();
      Map<String, float[]> start = snapshot(t);
      for (int i = 0; i < 3; i++) {
        t.step();
      }
      Map<String, float[]> end = snapshot(t);
      int moved = 0;
      int kept = 0;
      for (String name : start.keySet()) {
        if (!name.startsWith("llm.") && !encoderWeights.contains(name)) {
          continue; // a head dropped afterwards: trains in both
        }
        boolean budgetMap =
            Reasoner.isNormBudgetGain(name)
                || Reasoner.isBudgetAdapter(name)
                || Reasoner.isBudgetLora(name);
        boolean trained =
            switch (trains) {
              case ENCODER -> encoderWeights.contains(name);
              case LLM -> !encoderWeights.contains(name);
              case BUDGET -> budgetMap;
              case ALL -> true;
            };
        if (trained) {
          moved += Arrays.equals(start.get(name), end.get(name)) ? 0 : 1;
        } else {
          assertThat(end.get(name)).as("%s, kept", name).isEqualTo(start.get(name));
          kept++;
        }
      }
      assertThat(kept).as("tensors kept").isPositive();
      assertThat(moved).as("tensors trained that moved").isPositive();
    }
  }

  @Test
  void trainingThePerBudgetMapsAloneNeedsSome() {
    assertThatThrownBy(() -> changed(tiny(3), "trains", TrainConfig.Trains.BUDGET))
        .hasMessageStartingWith("train.trains: budget needs budgetEmbedding or budgetNorms");
  }

  /**
   * A run may change where the question stands until its LM starts training (the end of stage 0:
   * the LM's weights are still its initial ones), never after.
   */
  @Test
  void thePromptOrderMayChangeOnResumeOnlyBeforeTheLmTrains(@TempDir Path dir) throws Exception {
    TrainConfig framesFirst = tiny(8, 3);
    TrainConfig questionFirst = withOrder(framesFirst, LmConfig.PromptOrder.QUESTION_FIRST);
    try (Trainer t = Trainer.create(framesFirst, dir.resolve("run"))) {
      for (int i = 0; i < 3; i++) {
        t.step();
      }
      t.save(dir.resolve("end-of-stage-0"));
      t.step();
      t.save(dir.resolve("in-stage-1"));
    }
    try (Trainer t = Trainer.resume(questionFirst, dir.resolve("end-of-stage-0"))) {
      stepAndSaveQuestionFirst(t, dir.resolve("switched"));
    }
    assertThatThrownBy(() -> Trainer.resume(questionFirst, dir.resolve("in-stage-1")).close())
        .hasMessageStartingWith("train.promptOrder")
        .hasMessageContaining("FRAMES_FIRST");
  }

  /**
   * One step of {@code t}, whose LM reads the question first, saved to {@code to} in that order.
   */
  private static void stepAndSaveQuestionFirst(Trainer t, Path to) throws IOException {
    assertThat(t.reasoner().config().promptOrder()).isEqualTo(LmConfig.PromptOrder.QUESTION_FIRST);
    t.step();
    t.save(to);
    assertThat(Reasoner.readConfig(to.resolve("llm")).promptOrder())
        .isEqualTo(LmConfig.PromptOrder.QUESTION_FIRST);
  }

  /**
   * A resumed run goes on with its checkpoint's models: a config asking for another LM depth fails
   * at start naming the key, instead of being ignored.
   */
  @Test
  void resumingWithAnotherModelShapeFailsNamingTheKey(@TempDir Path dir) throws Exception {
    TrainConfig c = tiny(8, 3);
    try (Trainer t = Trainer.create(c, dir.resolve("run"))) {
      t.step();
      t.save(dir.resolve("ckpt"));
    }
    TrainConfig deeper = variant(c, c.promptOrder(), c.freezeVision(), c.lmLayers() + 1);
    assertThatThrownBy(() -> Trainer.resume(deeper, dir.resolve("ckpt")).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("train.lmLayers " + (c.lmLayers() + 1))
        .hasMessageContaining("checkpoint: " + c.lmLayers());
    Trainer.resume(c, dir.resolve("ckpt")).close(); // the same shapes resume
  }

  @Test
  void theReferenceMqtBlockTrainsToo(@TempDir Path dir) throws Exception {
    TrainConfig base = tiny(40);
    VitConfig vit = base.encoder().vision();
    EncoderConfig reference =
        new EncoderConfig(
            "test-reference",
            vit,
            new MqtConfig(
                16,
                vit.dim(),
                2,
                vit.dim(),
                vit.patches(),
                32,
                MqtConfig.KeyMode.POSITIONAL,
                false,
                MqtConfig.Block.REFERENCE),
            new float[] {0.5f, 0.5f, 0.5f},
            new float[] {0.25f, 0.25f, 0.25f});
    List<Float> losses = new ArrayList<>();
    TrainConfig c =
        new TrainConfig(
            5,
            40,
            0,
            false,
            2,
            8,
            3e-3f,
            3,
            0.01f,
            1.0f,
            0,
            2,
            reference,
            LmConfig.Norm.RMS,
            1,
            2,
            64,
            base.world(),
            Curriculum.NONE,
            TrainConfig.QueryInit.RANDOM,
            LmConfig.PromptOrder.FRAMES_FIRST,
            false,
            0f,
            false,
            0f,
            0f,
            0f,
            false,
            false,
            0f,
            false,
            0f,
            0f,
            1,
            0f,
            false,
            List.of(),
            false,
            1,
            false,
            1f,
            List.of(),
            0,
            0,
            TrainConfig.Trains.ALL);
    try (Trainer t = Trainer.create(c, dir)) {
      float[] positions = t.encoder().parameters().get("mqt.pos_embed").getArray().toFloatArray();
      for (int i = 0; i < 40; i++) {
        Trainer.StepResult r = t.step();
        losses.add(r.loss());
        assertThat(r.m()).isBetween(2, 16);
      }
      assertThat(t.encoder().parameters().get("mqt.pos_embed").getArray().toFloatArray())
          .as("pos_embed is fixed, as in the reference")
          .isEqualTo(positions);
    }
    assertLossFalls(losses);
  }

  @Test
  void theMatryoshkaDrawCoversEveryEvenMAlikeFromStepToStep() {
    TokenBudgetDraw draw = TokenBudgetDraw.weighted(64, 0); // mDrawPower 0: the reference's draw
    int[] hits = new int[65];
    for (int step = 0; step < 3200; step++) {
      hits[draw.draw(io.mqtstream.world.Seeds.random(1, step))]++;
    }
    for (int m = 2; m <= 64; m += 2) {
      assertThat(hits[m]).as("steps at m=%d", m).isBetween(60, 140); // 100 expected
    }
  }

  @Test
  void theLogUniformDrawWeighsEachEvenMByOneOverM() {
    TokenBudgetDraw draw = TokenBudgetDraw.weighted(64, 1);
    int[] hits = new int[65];
    int steps = 20_000;
    for (int step = 0; step < steps; step++) {
      int m = draw.draw(io.mqtstream.world.Seeds.random(1, step));
      assertThat(m).isBetween(2, 64);
      assertThat(m % 2).as("m=%d is even", m).isZero();
      hits[m]++;
    }
    // P(m) ∝ 1/m: m · hits[m] is the same for every m (~9,900 here; m = 2 is drawn ~4,900 times)
    double atTwo = 2.0 * hits[2];
    for (int m : new int[] {4, 8, 16}) {
      assertThat(m * (double) hits[m])
          .as("m · steps at m=%d", m)
          .isCloseTo(atTwo, within(0.1 * atTwo));
    }
    // the top doubling, the sixteen m in 34..64, is drawn about as often as 18..32
    int top = 0;
    int below = 0;
    for (int m = 18; m <= 64; m += 2) {
      if (m > 32) {
        top += hits[m];
      } else {
        below += hits[m];
      }
    }
    assertThat((double) top).isCloseTo(below, within(0.1 * below));
    assertThat(hits[64]).as("M itself is drawn").isPositive();
  }

  @Test
  void theLadderDrawCoversItsMAlikeAndNoOther() {
    // mChoices [2, 4, 8, 16, 32] with mDrawPower 0: the engine's budget ladder, each m alike
    TokenBudgetDraw draw = TokenBudgetDraw.weighted(new int[] {2, 4, 8, 16, 32}, 0);
    Map<Integer, Integer> hits = new HashMap<>();
    for (int step = 0; step < 5000; step++) {
      hits.merge(draw.draw(io.mqtstream.world.Seeds.random(1, step)), 1, Integer::sum);
    }
    assertThat(hits.keySet()).containsExactlyInAnyOrder(2, 4, 8, 16, 32);
    hits.forEach((m, n) -> assertThat(n).as("steps at m=%d", m).isBetween(850, 1150));
  }

  /** A run draws its m from its config's {@code mChoices} alone: [6] gives m = 6 on every step. */
  @Test
  void aRunDrawsItsMFromTheConfiguredChoices(@TempDir Path dir) throws Exception {
    TrainConfig c = changed(changed(tiny(8), "alignmentSteps", 0), "mChoices", List.of(6));
    try (Trainer t = Trainer.create(c, dir)) {
      for (int i = 0; i < c.steps(); i++) {
        assertThat(t.step().m()).as("step %d", i).isEqualTo(6);
      }
    }
    assertThatThrownBy(() -> changed(tiny(8), "mChoices", List.of(4, 2)))
        .hasMessageStartingWith("train.mChoices");
    assertThatThrownBy(() -> changed(tiny(8), "mChoices", List.of(2, 10)))
        .as("above M = 8")
        .hasMessageStartingWith("train.mChoices");
  }

  /**
   * A run draws m with its config's {@code mDrawPower}: at power 20, m = 2 (weight 2^-20 against
   * 4^-20 for the next) on every step; the reference's uniform draw over 2..8 gives it on one step
   * in four.
   */
  @Test
  void aRunDrawsItsMWithTheConfiguredPower(@TempDir Path dir) throws Exception {
    TrainConfig c = changed(changed(tiny(8), "alignmentSteps", 0), "mDrawPower", 20f);
    try (Trainer t = Trainer.create(c, dir)) {
      for (int i = 0; i < c.steps(); i++) {
        assertThat(t.step().m()).as("step %d", i).isEqualTo(2);
      }
    }
  }

  /**
   * With {@code mDrawsPerStep: 2} each half of the batch trains at its own m: one step from a fresh
   * run moves exactly the latent queries below the larger of its two m (the others only decay),
   * which is more than the reported (last) group's m on some seeds; with one draw, exactly the
   * step's m.
   */
  @Test
  void twoDrawsPerStepTrainEachHalfOfTheBatchAtItsOwnM(@TempDir Path dir) throws Exception {
    int beyondReported = 0;
    for (long seed = 1; seed <= 8; seed++) {
      // no stage 1 (scene descriptions at m = M): the first step is a question step
      TrainConfig one = changed(changed(tiny(4), "alignmentSteps", 0), "seed", seed);
      int[] oneDraw = queriesMovedByOneStep(one, dir.resolve("one-" + seed));
      assertThat(oneDraw[1])
          .as("queries moved at m=%d, seed %d", oneDraw[0], seed)
          .isEqualTo(oneDraw[0]);
      int[] twoDraws =
          queriesMovedByOneStep(changed(one, "mDrawsPerStep", 2), dir.resolve("two-" + seed));
      assertThat(twoDraws[1]).as("seed %d", seed).isBetween(twoDraws[0], 8);
      assertThat(twoDraws[1] % 2).isZero();
      if (twoDraws[1] > twoDraws[0]) {
        beyondReported++;
      }
    }
    assertThat(beyondReported).as("steps whose first group drew the larger m").isPositive();
    assertThatThrownBy(() -> changed(tiny(4), "mDrawsPerStep", 3))
        .hasMessageStartingWith("train.mDrawsPerStep");
  }

  /**
   * Training under constant garbage collection skips no step: every constant that a loss or an
   * attention multiplies by lives until the backward pass ({@link io.mqtstream.nn.Scalars}). With
   * DJL's {@code mul(Number)} and kin it did not, and with {@code System.gc()} every 2 ms 6 of 400
   * tiny steps (10 with two groups a step) had non-finite gradients and were skipped.
   */
  @Test
  void trainingUnderConstantGarbageCollectionSkipsNoStep(@TempDir Path dir) throws Exception {
    TrainConfig c =
        changed(
            changed(changed(tiny(150), "mDrawsPerStep", 2), "sandwich", true), "distillWeight", 1f);
    Thread collector =
        new Thread(
            () -> {
              while (!Thread.currentThread().isInterrupted()) {
                System.gc();
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000); // a pace, not a wait
              }
            });
    collector.setDaemon(true);
    collector.start();
    try (Trainer t = Trainer.create(c, dir)) {
      while (t.stepsTaken() < c.steps()) {
        assertThat(t.step().loss()).isFinite();
      }
      assertThat(t.skippedSteps()).as("steps skipped for non-finite gradients").isZero();
    } finally {
      collector.interrupt();
      collector.join();
    }
  }

  /**
   * With {@code sandwich} the first group of every step trains at M: one step moves all M latent
   * queries whatever the other group drew (without it, only those below the larger draw).
   */
  @Test
  void theSandwichRuleTrainsMOnEveryStep(@TempDir Path dir) throws Exception {
    int drewBelowM = 0;
    for (long seed = 1; seed <= 6; seed++) {
      TrainConfig c =
          changed(
              changed(
                  changed(changed(tiny(4), "alignmentSteps", 0), "seed", seed), "mDrawsPerStep", 2),
              "sandwich",
              true);
      int[] moved = queriesMovedByOneStep(c, dir.resolve("s" + seed));
      assertThat(moved[1]).as("queries moved, the drawn group at m=%d", moved[0]).isEqualTo(8);
      drewBelowM += moved[0] < 8 ? 1 : 0;
    }
    assertThat(drewBelowM).as("steps whose drawn group was below M").isPositive();
    assertThatThrownBy(() -> changed(tiny(4), "sandwich", true))
        .hasMessageStartingWith("train.sandwich");
  }

  /**
   * {@code distillWeight} acts below M and its teacher (the answers at M) gives no gradient: one
   * step at m = 2 from the same start moves the latent queries otherwise when distilled, and moves
   * exactly the first two, as a plain step does (a teacher with a gradient would move all M).
   */
  @Test
  void aDistilledStepAtSmallMLearnsOtherwiseAndItsTeacherGivesNoGradient(@TempDir Path dir)
      throws Exception {
    TrainConfig plain = changed(changed(tiny(4), "alignmentSteps", 0), "fixedM", 2);
    TrainConfig distilled = changed(plain, "distillWeight", 4f);
    assertThat(queriesMovedByOneStep(distilled, dir.resolve("moved")))
        .as("m, latent queries moved")
        .containsExactly(2, 2);
    float[] plainQueries = queriesAfterOneStep(plain, dir.resolve("plain"));
    float[] distilledQueries = queriesAfterOneStep(distilled, dir.resolve("distilled"));
    float most = 0;
    for (int i = 0; i < plainQueries.length; i++) {
      most = Math.max(most, Math.abs(plainQueries[i] - distilledQueries[i]));
    }
    assertThat(most).as("largest difference, plain vs distilled").isGreaterThan(1e-5f);
    assertThatThrownBy(() -> changed(plain, "distillWeight", -1f))
        .hasMessageStartingWith("train.distillWeight");
  }

  private static float[] queriesAfterOneStep(TrainConfig c, Path dir) throws Exception {
    try (Trainer t = Trainer.create(c, dir)) {
      t.step();
      return t.encoder().parameters().get("mqt.latent_queries").getArray().toFloatArray();
    }
  }

  /** The first step's reported m and how many latent queries (rows) it moved beyond decay. */
  private static int[] queriesMovedByOneStep(TrainConfig c, Path dir) throws Exception {
    try (Trainer t = Trainer.create(c, dir)) {
      NDArray queries = t.encoder().parameters().get("mqt.latent_queries").getArray();
      float[] before = queries.toFloatArray();
      Trainer.StepResult r = t.step();
      assertThat(r.loss()).isFinite();
      float[] after = queries.toFloatArray();
      int width = (int) queries.getShape().get(1);
      int moved = 0;
      for (int row = 0; row < before.length / width; row++) {
        float most = 0;
        for (int i = row * width; i < (row + 1) * width; i++) {
          most = Math.max(most, Math.abs(after[i] - before[i]));
        }
        // a first Adam step moves a weight by about the learning rate (1e-3 here); decay alone by
        // lr × 0.01 × |w|, below 1e-6
        if (most > 1e-4f) {
          moved++;
        }
      }
      return new int[] {r.m(), moved};
    }
  }

  @Test
  void resumingWithTwoDrawsPerStepGivesTheParametersOfAnUninterruptedRun(@TempDir Path dir)
      throws Exception {
    resumesExactly(changed(tiny(8), "mDrawsPerStep", 2), 4, dir);
  }

  @Test
  void resumingADistilledSandwichRunGivesTheParametersOfAnUninterruptedRun(@TempDir Path dir)
      throws Exception {
    TrainConfig twoDraws = changed(tiny(8), "mDrawsPerStep", 2);
    resumesExactly(changed(changed(twoDraws, "sandwich", true), "distillWeight", 1f), 4, dir);
  }

  @Test
  void resumingGivesTheParametersOfAnUninterruptedRun(@TempDir Path dir) throws Exception {
    resumesExactly(tiny(8), 4, dir);
  }

  @Test
  void resumingInsideTheVisionStageGivesTheParametersOfAnUninterruptedRun(@TempDir Path dir)
      throws Exception {
    resumesExactly(tiny(8, 4), 2, dir); // stops in stage 0, ends in stage 2
  }

  private static void resumesExactly(TrainConfig config, int stopAt, Path dir) throws Exception {
    Map<String, float[]> straight;
    try (Trainer t = Trainer.create(config, dir.resolve("a"))) {
      for (int i = 0; i < config.steps(); i++) {
        t.step();
      }
      straight = snapshot(t);
    }
    try (Trainer t = Trainer.create(config, dir.resolve("b"))) {
      for (int i = 0; i < stopAt; i++) {
        t.step();
      }
      t.save(dir.resolve("ckpt"));
    }
    try (Trainer t = Trainer.resume(config, dir.resolve("ckpt"))) {
      assertThat(t.stepsTaken()).isEqualTo(stopAt);
      for (int i = stopAt; i < config.steps(); i++) {
        t.step();
      }
      Map<String, float[]> resumed = snapshot(t);
      assertThat(resumed.keySet()).isEqualTo(straight.keySet());
      for (String name : straight.keySet()) {
        float[] a = straight.get(name);
        float[] b = resumed.get(name);
        for (int i = 0; i < a.length; i++) {
          // a resume that lost state moves a weight by about a learning rate (3e-3) per step;
          // float-order differences after AdamW's first steps reached 1.9e-5 on a clean clone
          assertThat(Math.abs(a[i] - b[i])).as(name).isLessThan(1e-4f);
        }
      }
    }
  }

  /**
   * Stage 0 trains the backbone alone on per-patch labels: its loss falls, its patch accuracy
   * rises, and no MQT or LM weight moves.
   */
  @Test
  void theVisionStageTeachesTheBackboneAloneWhatLiesInEachPatch(@TempDir Path dir)
      throws Exception {
    visionStageTeachesTheBackbone(false, dir);
  }

  /** The same with object slots learnt beside: the patch labels are learnt as well as without. */
  @Test
  void theVisionStageLearnsObjectSlotsBeside(@TempDir Path dir) throws Exception {
    visionStageTeachesTheBackbone(true, dir);
  }

  private static void visionStageTeachesTheBackbone(boolean objectSlots, Path dir)
      throws Exception {
    int visionSteps = 300;
    try (Trainer t = Trainer.create(tiny(visionSteps + 3, visionSteps, objectSlots), dir)) {
      Map<String, float[]> before = snapshot(t);
      List<Trainer.StepResult> steps = new ArrayList<>();
      for (int i = 0; i < visionSteps; i++) {
        steps.add(t.step());
      }
      assertThat(steps).allSatisfy(r -> assertThat(r.m()).isZero());
      double firstLoss =
          steps.subList(0, 20).stream().mapToDouble(r -> r.loss()).average().orElseThrow();
      double lastLoss =
          steps.subList(280, 300).stream().mapToDouble(r -> r.loss()).average().orElseThrow();
      double firstAcc =
          steps.subList(0, 20).stream().mapToDouble(r -> r.accuracy()).average().orElseThrow();
      double lastAcc =
          steps.subList(280, 300).stream().mapToDouble(r -> r.accuracy()).average().orElseThrow();
      System.out.printf(
          "stage 0: loss %.3f -> %.3f, patch accuracy %.3f -> %.3f%n",
          firstLoss, lastLoss, firstAcc, lastAcc);
      assertThat(lastLoss).isLessThan(firstLoss * 0.8);
      assertThat(lastAcc).as("object-covered patches named right").isGreaterThan(firstAcc + 0.1);
      Map<String, float[]> after = snapshot(t);
      for (String name : before.keySet()) {
        if (name.startsWith("vision.")) {
          assertThat(after.get(name)).as(name).isNotEqualTo(before.get(name));
        } else {
          assertThat(after.get(name)).as(name).isEqualTo(before.get(name));
        }
      }
      Trainer.StepResult first = t.step(); // stage 1 follows: the whole model learns
      assertThat(first.m()).isEqualTo(8);
      assertThat(snapshot(t).get("mqt.latent_queries"))
          .isNotEqualTo(after.get("mqt.latent_queries"));
    }
  }

  /** After stage 0, stages 1 and 2 take the steps a run without it takes: same m, same rates. */
  @Test
  void afterTheVisionStageTheRunTakesTheStepsItWouldTakeWithoutIt(@TempDir Path dir)
      throws Exception {
    List<Trainer.StepResult> without = new ArrayList<>();
    try (Trainer t = Trainer.create(tiny(8), dir.resolve("a"))) {
      for (int i = 0; i < 8; i++) {
        without.add(t.step());
      }
    }
    try (Trainer t = Trainer.create(tiny(11, 3), dir.resolve("b"))) {
      for (int i = 0; i < 3; i++) {
        t.step();
      }
      for (int i = 0; i < 8; i++) {
        Trainer.StepResult r = t.step();
        assertThat(r.step()).isEqualTo(3 + i);
        assertThat(r.m()).as("m of step %d", i).isEqualTo(without.get(i).m());
        assertThat(r.learningRate())
            .as("rate of step %d", i)
            .isEqualTo(without.get(i).learningRate());
        assertThat(r.examples()).isEqualTo(without.get(i).examples());
      }
    }
  }

  @Test
  void stepsLeaveNoNativeArraysBehind(@TempDir Path dir) throws Exception {
    leavesNoNativeArraysBehind(tiny(10), dir);
  }

  @Test
  void visionStageStepsLeaveNoNativeArraysBehind(@TempDir Path dir) throws Exception {
    leavesNoNativeArraysBehind(tiny(10, 8), dir); // all seven measured steps in stage 0
  }

  private static void leavesNoNativeArraysBehind(TrainConfig config, Path dir) throws Exception {
    try (Trainer t = Trainer.create(config, dir)) {
      t.step();
      t.step();
      int encoderArrays = t.encoder().manager().getManagedArrays().size();
      int lmArrays = t.reasoner().manager().getManagedArrays().size();
      for (int i = 0; i < 5; i++) {
        t.step();
      }
      assertThat(t.encoder().manager().getManagedArrays().size()).isEqualTo(encoderArrays);
      assertThat(t.reasoner().manager().getManagedArrays().size()).isEqualTo(lmArrays);
    }
  }

  /**
   * A step whose loss is NaN (here: one latent query made NaN) changes no weight: once, such a step
   * wrote NaN into every weight of a baseline run through AdamW. Training goes on after it.
   */
  @Test
  void aNonFiniteStepChangesNoWeightAndTrainingGoesOn(@TempDir Path dir) throws Exception {
    try (Trainer t = Trainer.create(tiny(10), dir)) {
      t.step(); // past stage 1 (2 steps), so the next steps answer questions
      t.step();
      ai.djl.ndarray.NDArray queries =
          t.encoder().parameters().get("mqt.latent_queries").getArray(); // (M, D)
      float[] healthy = io.mqtstream.nn.Tensors.toFloats(queries);
      float[] poisoned = healthy.clone();
      poisoned[0] = Float.NaN; // query 0 is used at every m
      overwrite(queries, poisoned);
      Map<String, float[]> before = snapshot(t);

      Trainer.StepResult bad = t.step();

      assertThat(bad.loss()).isNaN();
      assertThat(t.skippedSteps()).isEqualTo(1);
      Map<String, float[]> after = snapshot(t);
      for (String name : before.keySet()) {
        assertThat(after.get(name)).as(name).isEqualTo(before.get(name));
      }

      overwrite(queries, healthy);
      Trainer.StepResult good = t.step();
      assertThat(good.loss()).isFinite();
      assertThat(t.skippedSteps()).isEqualTo(1);
      Map<String, float[]> trained = snapshot(t);
      assertThat(trained.get("mqt.latent_queries")).as("updated again").isNotEqualTo(healthy);
      trained.values().forEach(w -> assertThat(w).doesNotContain(Float.NaN));
    }
  }

  private static void overwrite(ai.djl.ndarray.NDArray parameter, float[] values) {
    parameter.setRequiresGradient(false);
    parameter.set(values);
    parameter.setRequiresGradient(true);
  }

  /**
   * Multi-turn layout: each target is predicted at the position before it appears in the text (the
   * answer tokens, then the {@code <eos>} that follows except after the last turn), and the first
   * turn is exactly the single-question prompt [sep, question] the engine builds.
   */
  @Test
  void turnsPutEachTargetRightAfterThePositionThatPredictsIt() {
    long sep = 2;
    long eos = 3;
    Trainer.Turns turns =
        Trainer.Turns.of(
            List.of(new long[] {10, 11}, new long[] {12}, new long[0]),
            List.of(new long[] {20}, new long[] {21, 22}, new long[] {23}),
            sep,
            eos);
    assertThat(turns.text()).containsExactly(2, 10, 11, 20, 3, 2, 12, 21, 22, 3, 2, 23);
    assertThat(turns.firstTarget()).containsExactly(2, 6, 10);
    assertThat(turns.targets()[1]).containsExactly(21, 22, 3);
    for (int k = 0; k < 3; k++) {
      long[] ids = turns.targets()[k];
      for (int j = 0; j < ids.length; j++) {
        int next = turns.firstTarget()[k] + j + 1;
        if (next < turns.text().length) {
          assertThat(turns.text()[next]).as("turn %d target %d", k, j).isEqualTo(ids[j]);
        } else {
          assertThat(ids[j]).as("the last <eos> is predicted, never read").isEqualTo(eos);
        }
      }
    }
  }

  /** The last 6 of 40 steps' mean loss is at least 20 % under that of steps 3–8. */
  private static void assertLossFalls(List<Float> losses) {
    double first =
        losses.subList(2, 8).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
    double last =
        losses.subList(34, 40).stream().mapToDouble(Float::doubleValue).average().orElseThrow();
    System.out.printf("loss: first steps %.3f, last steps %.3f%n", first, last);
    assertThat(last).isLessThan(first * 0.8);
  }

  private static Map<String, float[]> snapshot(Trainer t) {
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    t.encoder()
        .parameters()
        .forEach((k, p) -> out.put(k, io.mqtstream.nn.Tensors.toFloats(p.getArray())));
    t.reasoner()
        .parameters()
        .forEach((k, p) -> out.put(k, io.mqtstream.nn.Tensors.toFloats(p.getArray())));
    return out;
  }
}
