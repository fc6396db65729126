package io.mqtstream.training;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.encoder.EncoderConfig;
import io.mqtstream.encoder.MqtConfig;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.nn.Engines;
import io.mqtstream.nn.Scalars;
import io.mqtstream.nn.Tensors;
import io.mqtstream.reasoner.DecoderLm;
import io.mqtstream.reasoner.LmConfig;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.TextTokenizer;
import io.mqtstream.reasoner.WordVocabulary;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Question;
import io.mqtstream.world.Seeds;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Trains the encoder and the LM together on the synthetic world with the Matryoshka objective:
 * every step draws one m (even, 2..M, or fixed for a baseline) and uses only the first m latent
 * queries (optionally distilled from the model's own answers at M, {@link AnswerDistillation}). An
 * optional stage 0 (the first {@code visionSteps}, {@link VisionStage}) trains the vision backbone
 * alone on per-patch labels; stage 1 (the next {@code alignmentSteps}) learns scene descriptions at
 * m = M; stage 2 answers questions. A step's clips, questions and m come from (seed, step) alone,
 * so a resumed run takes exactly the steps an uninterrupted one would.
 */
public final class Trainer implements AutoCloseable {
  private static final String STATE_FILE = "trainer.json";
  private static final String OPTIMIZER_FILE = "optimizer.safetensors";

  private final TrainConfig config;
  // the world of each curriculum stage (one when there is no curriculum)
  private final Map<WorldConfig, SyntheticWorld> worlds = new java.util.HashMap<>();
  private final MqtEncoder encoder;
  private final Reasoner reasoner;
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();
  // what stages 1 and 2 update: all of the above, or without the backbone when it is frozen
  private final Map<String, Parameter> languageStages = new LinkedHashMap<>();
  private final AdamW optimizer;
  private final LearningRate schedule;
  private final TokenBudgetDraw draw;
  // stage 0 (null when visionSteps is 0): the backbone learns per-patch labels before stage 1
  private final VisionStage vision;
  // stages 1 and 2's auxiliary loss (null when identityWeight is 0): the tokens say which objects
  private final IdentityHead identity;
  // stage 2's auxiliary loss on the LM (null when subjectWeight is 0): it finds the named object
  private final SubjectHead subject;
  // stage 2's loss on where the LM looks (null when nameAttention is 0): a name finds its token
  private final NameAttention nameAttention;
  // stage 2's read of what the first layer gathered at a name (null when nameSubject is 0)
  private final SubjectHead nameSubject;
  private final CameraFrames cameraFrames = new CameraFrames("train");
  private int step;
  private int skippedSteps;
  private boolean keptFrozen;
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Trainer.class);

  /** What one step did. */
  public record StepResult(
      int step, int m, float loss, float accuracy, float learningRate, int examples) {}

  private Trainer(TrainConfig config, MqtEncoder encoder, Reasoner reasoner) {
    this.config = config;
    this.encoder = encoder;
    this.reasoner = reasoner;
    // what the model trains: fixed parameters (the reference MQT's pos_embed) stay as they are
    encoder.parameters().forEach((n, p) -> trainable(n, p));
    reasoner.parameters().forEach((n, p) -> trainable(n, p));
    parameters.values().forEach(p -> p.getArray().setRequiresGradient(true));
    java.util.Set<String> encoderWeights = encoder.parameters().keySet();
    parameters.forEach(
        (n, p) -> {
          boolean ofEncoder = encoderWeights.contains(n);
          boolean trained =
              switch (config.trains()) {
                case ALL -> true;
                case ENCODER -> ofEncoder;
                case LLM -> !ofEncoder;
                case BUDGET -> isBudgetMap(n);
              };
          if (trained && !(config.freezeVision() && n.startsWith("vision."))) {
            languageStages.put(n, p);
          }
        });
    this.optimizer =
        new AdamW(parameters, encoder.manager(), 0.9f, 0.98f, 1e-8f, config.weightDecay());
    if (config.budgetRateScale() != 1) {
      for (String name : parameters.keySet()) {
        if (isBudgetMap(name)) {
          optimizer.scaleRate(name, config.budgetRateScale());
        }
      }
    }
    // stages 1 and 2 keep their own schedule, counted from their first step
    this.schedule =
        new LearningRate(
            config.learningRate(),
            config.warmupSteps(),
            config.steps() - config.visionSteps(),
            0.1f);
    this.draw = TokenBudgetDraw.of(config);
    Map<String, Parameter> backbone = new LinkedHashMap<>();
    encoder
        .parameters()
        .forEach(
            (n, p) -> {
              if (n.startsWith("vision.") && p.requiresGradient()) {
                backbone.put(n, p);
              }
            });
    this.vision =
        config.visionSteps() > 0
            ? new VisionStage(encoder.backbone(), backbone, encoder.manager(), config)
            : null;
    this.identity =
        config.identityWeight() > 0
            ? new IdentityHead(config.encoder().mqt().outputDim(), encoder.manager(), config)
            : null;
    this.subject =
        config.subjectWeight() > 0
            ? new SubjectHead(
                config.encoder().mqt().outputDim(),
                encoder.manager(),
                config,
                SubjectHead.Reads.ANSWER)
            : null;
    this.nameSubject =
        config.nameSubject() > 0
            ? new SubjectHead(
                config.encoder().mqt().outputDim(),
                encoder.manager(),
                config,
                SubjectHead.Reads.NAME)
            : null;
    this.nameAttention =
        config.nameAttention() > 0
            ? new NameAttention(
                reasoner.tokenizer(),
                config.nameAttention(),
                config.nameSummary(),
                config.tokenLayout())
            : null;
  }

  /** A fresh run; the world's vocabulary becomes {@code workDir/tokenizer.json}. */
  public static Trainer create(TrainConfig config, Path workDir) throws IOException {
    Files.createDirectories(workDir);
    Path tok = workDir.resolve(Reasoner.TOKENIZER_FILE);
    WordVocabulary.write(tok, SyntheticWorld.vocabulary());
    if (config.objectNames()) {
      WordVocabulary.withPhrases(tok, tok, SyntheticWorld.objectNames());
    }
    TextTokenizer tokenizer = TextTokenizer.load(tok);
    MqtEncoder encoder = MqtEncoder.create(config.encoder(), config.seed());
    if (config.queryInit() == TrainConfig.QueryInit.PYRAMID) {
      QueryPyramid.fit(encoder);
    }
    Reasoner reasoner =
        Reasoner.create(
            config.lm(tokenizer.vocabSize()), tokenizer, config.seed() + 1, Device.cpu());
    return new Trainer(config, encoder, reasoner);
  }

  /** Continues a run from a checkpoint written by {@link #save}. */
  public static Trainer resume(TrainConfig config, Path checkpoint) throws IOException {
    int step =
        new ObjectMapper().readTree(checkpoint.resolve(STATE_FILE).toFile()).get("step").asInt();
    // the LM has trained once stage 0 is over; before, its weights are still the initial ones
    Trainer t = withModelsOf(config, checkpoint, step > config.visionSteps(), false);
    NDManager manager = t.encoder.manager();
    t.optimizer.load(checkpoint.resolve(OPTIMIZER_FILE), manager);
    t.step = step;
    if (t.step < config.visionSteps()) {
      t.vision.load(checkpoint, manager);
    }
    if (t.identity != null && !t.identity.weights().load(checkpoint, manager)) {
      log.info(
          "{} has no identity head: it starts fresh (identityWeight {})",
          checkpoint,
          config.identityWeight());
    }
    if (t.subject != null && !t.subject.weights().load(checkpoint, manager)) {
      log.info(
          "{} has no subject head: it starts fresh (subjectWeight {})",
          checkpoint,
          config.subjectWeight());
    }
    if (t.nameSubject != null && !t.nameSubject.weights().load(checkpoint, manager)) {
      log.info(
          "{} has no name-subject head: it starts fresh (nameSubject {})",
          checkpoint,
          config.nameSubject());
    }
    return t;
  }

  /**
   * A fresh run that starts from a trained model's weights ({@code model}: a shipped model folder
   * such as {@code models/mqt-tiny} or a checkpoint, each with {@code encoder/} and {@code llm/}):
   * step 0 of {@code config}, a fresh optimizer and schedule, fine-tuning instead of resuming. Its
   * model shapes must be the config's; its prompt order may differ, and then the LM relearns where
   * the question stands (the config's order is saved with it).
   */
  public static Trainer startFrom(TrainConfig config, Path model) throws IOException {
    Trainer t = withModelsOf(config, model, true, true);
    if (t.identity != null) {
      log.info(
          "{}: the identity head starts fresh (identityWeight {})", model, config.identityWeight());
    }
    if (t.subject != null) {
      log.info(
          "{}: the subject head starts fresh (subjectWeight {})", model, config.subjectWeight());
    }
    if (t.nameSubject != null) {
      log.info(
          "{}: the name-subject head starts fresh (nameSubject {})", model, config.nameSubject());
    }
    return t;
  }

  /**
   * A trainer over the encoder and LM saved in {@code dir}, which must have the config's shapes
   * and, when that LM has trained ({@code lmTrained}) and the run resumes, the config's prompt
   * order: a resumed LM read with the question elsewhere would be silently wrong. With {@code
   * mayExpand} (a run started from a model, a new run that says so) the prompt order may change,
   * and the config may ask for more LM layers than the model has: they are added on top as the
   * identity ({@link Reasoner#loadExpanded}), and so may a token-index embedding, frame-difference
   * map, budget embedding, switchable norms, per-budget adapters or LoRA the model lacks, each
   * adding nothing at first; and a legacy block with positional keys may go on with content keys
   * ({@link MqtEncoder#load(Path, MqtConfig.KeyMode)}).
   */
  private static Trainer withModelsOf(
      TrainConfig config, Path dir, boolean lmTrained, boolean mayExpand) throws IOException {
    LmConfig saved = Reasoner.readConfig(dir.resolve("llm"));
    boolean reorder = saved.promptOrder() != config.promptOrder();
    if (lmTrained && reorder && !mayExpand) {
      throw new IllegalArgumentException(
          "train.promptOrder: "
              + config.promptOrder()
              + ", but the LM of "
              + dir
              + " has trained with "
              + saved.promptOrder()
              + " (a resumed run may change it only until its LM starts, at step visionSteps = "
              + config.visionSteps()
              + "; a run started from the model with --start-from may change it)");
    }
    if (lmTrained && reorder) {
      log.info(
          "{}: its LM trained with {}, this run moves the question to {}: the LM relearns where"
              + " the question stands",
          dir,
          saved.promptOrder(),
          config.promptOrder());
    }
    boolean named = hasObjectNames(dir.resolve("llm").resolve(Reasoner.TOKENIZER_FILE));
    boolean addNames = mayExpand && config.objectNames() && !named;
    if (named != config.objectNames() && !addNames) {
      throw new IllegalArgumentException(
          "train.objectNames: "
              + config.objectNames()
              + ", but the tokenizer of "
              + dir
              + (named ? " reads" : " does not read")
              + " object names as one token (a run started from a model may add them, never"
              + " remove them; a resumed run keeps its tokenizer)");
    }
    boolean index = mayExpand && config.tokenIndex() && saved.tokenIndex() == 0;
    boolean difference = mayExpand && config.frameDifference() && !saved.frameDifference();
    boolean budget = mayExpand && config.budgetEmbedding() && saved.budget() == 0;
    boolean norms = mayExpand && !config.budgetNorms().isEmpty() && saved.normBudgets().isEmpty();
    boolean adapters = mayExpand && config.budgetAdapterRank() > 0 && saved.adapterRank() == 0;
    boolean lora = mayExpand && config.budgetLoraRank() > 0 && saved.loraRank() == 0;
    int layers = mayExpand ? Math.max(saved.layers(), config.lmLayers()) : saved.layers();
    LmConfig lm =
        saved
            .withLayers(layers)
            .withTokenIndex(index ? config.encoder().mqt().maxTokens() : saved.tokenIndex())
            .withFrameDifference(difference || saved.frameDifference())
            .withBudget(budget ? config.encoder().mqt().maxTokens() : saved.budget())
            .withNormBudgets(norms ? config.budgetNorms() : saved.normBudgets())
            .withAdapterRank(adapters ? config.budgetAdapterRank() : saved.adapterRank())
            .withLoraRank(lora ? config.budgetLoraRank() : saved.loraRank())
            .withPromptOrder(config.promptOrder());
    EncoderConfig savedEncoder =
        EncoderConfig.read(dir.resolve("encoder").resolve(MqtEncoder.CONFIG_FILE));
    boolean seeContent = // positional keys may go on as content keys, the same weights
        mayExpand
            && savedEncoder.mqt().block() == MqtConfig.Block.LEGACY
            && savedEncoder.mqt().keyMode() == MqtConfig.KeyMode.POSITIONAL
            && config.encoder().mqt().keyMode() == MqtConfig.KeyMode.CONTENT;
    MqtConfig.KeyMode keys = seeContent ? MqtConfig.KeyMode.CONTENT : savedEncoder.mqt().keyMode();
    checkSameShapes(config, savedEncoder.withKeyMode(keys), lm, dir);
    MqtEncoder encoder = MqtEncoder.load(dir.resolve("encoder"), keys);
    if (seeContent) {
      log.info("{}: its positional keys now see the patches' features too (keyMode content)", dir);
    }
    boolean expand =
        layers > saved.layers() || index || difference || budget || norms || adapters || lora;
    // what the expansion adds at random (added layers, adapters' down and LoRA's A maps) draws from
    // the seed (seed + 1, as create gives the LM), so two runs from one model start alike
    Engines.pytorch().setRandomSeed((int) config.seed() + 1);
    Reasoner reasoner =
        expand
            ? Reasoner.loadExpanded(dir.resolve("llm"), lm, Device.cpu())
            : Reasoner.load(dir.resolve("llm"), lm, Device.cpu());
    if (layers > saved.layers()) {
      log.info(
          "{}: its {} LM layers, then {} more that start as the identity",
          dir,
          saved.layers(),
          layers - saved.layers());
    }
    if (index) {
      log.info(
          "{}: its LM gains a token-index embedding of {} rows, from zero", dir, lm.tokenIndex());
    }
    if (difference) {
      log.info("{}: its LM gains a frame-difference map, from zero", dir);
    }
    if (budget) {
      log.info("{}: its LM gains a budget embedding of {} rows, from zero", dir, lm.budget());
    }
    if (norms) {
      log.info(
          "{}: every norm of its LM gains per-budget gains for m from {}, from zero",
          dir,
          lm.normBudgets());
    }
    if (adapters) {
      log.info(
          "{}: every layer of its LM gains a rank-{} adapter per budget set, adding zero at first",
          dir,
          lm.adapterRank());
    }
    if (lora) {
      log.info(
          "{}: every projection of its LM gains a rank-{} LoRA update per budget set, adding zero"
              + " at first",
          dir,
          lm.loraRank());
    }
    if (addNames) {
      Path tok = Files.createTempFile("tokenizer-", ".json"); // each checkpoint saves a copy
      tok.toFile().deleteOnExit();
      WordVocabulary.withPhrases(reasoner.tokenizer().file(), tok, SyntheticWorld.objectNames());
      try (Reasoner small = reasoner) {
        reasoner = small.withTokenizer(tok);
      }
      log.info(
          "{}: its tokenizer reads the {} object names as one token each, from the mean of their"
              + " words",
          dir,
          SyntheticWorld.objectNames().size());
    }
    // the heads this run adds (identity, subject, name-subject, vision) start from the seed too:
    // a loaded model needs no random draw, and without this they drew from wherever the engine's
    // generator stood, so two runs from one model differed from their first step (seed + 2: create
    // gives the encoder seed and the LM seed + 1)
    Engines.pytorch().setRandomSeed((int) config.seed() + 2);
    return new Trainer(config, encoder, reasoner);
  }

  /** Whether a tokenizer reads every object name as one token. */
  private static boolean hasObjectNames(Path tokenizerJson) throws IOException {
    return WordVocabulary.words(tokenizerJson).containsAll(SyntheticWorld.objectNames());
  }

  /**
   * A resumed run goes on with its checkpoint's models, so a config whose model shapes differ (a
   * deeper LM, another backbone) would be silently ignored: it fails instead, naming the keys.
   */
  private static void checkSameShapes(
      TrainConfig config, EncoderConfig encoder, LmConfig lm, Path checkpoint) {
    List<String> differ = new ArrayList<>();
    if (!encoder.vision().equals(config.encoder().vision())) {
      differ.add("vision (checkpoint: " + encoder.vision() + ")");
    }
    if (!encoder.mqt().equals(config.encoder().mqt())) {
      differ.add("keyMode/tokenPositions/block (checkpoint: " + encoder.mqt() + ")");
    }
    if (lm.layers() != config.lmLayers()) {
      differ.add("lmLayers " + config.lmLayers() + " (checkpoint: " + lm.layers() + ")");
    }
    if (lm.heads() != config.lmHeads()) {
      differ.add("lmHeads " + config.lmHeads() + " (checkpoint: " + lm.heads() + ")");
    }
    if (lm.ffnDim() != config.lmFfn()) {
      differ.add("lmFfn " + config.lmFfn() + " (checkpoint: " + lm.ffnDim() + ")");
    }
    boolean indexed = lm.tokenIndex() > 0;
    if (indexed != config.tokenIndex()) {
      differ.add("tokenIndex " + config.tokenIndex() + " (checkpoint: " + indexed + ")");
    }
    if (lm.frameDifference() != config.frameDifference()) {
      differ.add(
          "frameDifference "
              + config.frameDifference()
              + " (checkpoint: "
              + lm.frameDifference()
              + ")");
    }
    boolean budgeted = lm.budget() > 0;
    if (budgeted != config.budgetEmbedding()) {
      differ.add("budgetEmbedding " + config.budgetEmbedding() + " (checkpoint: " + budgeted + ")");
    }
    if (!lm.normBudgets().equals(config.budgetNorms())) {
      differ.add("budgetNorms " + config.budgetNorms() + " (checkpoint: " + lm.normBudgets() + ")");
    }
    if (lm.adapterRank() != config.budgetAdapterRank()) {
      differ.add(
          "budgetAdapterRank "
              + config.budgetAdapterRank()
              + " (checkpoint: "
              + lm.adapterRank()
              + ")");
    }
    if (lm.loraRank() != config.budgetLoraRank()) {
      differ.add(
          "budgetLoraRank " + config.budgetLoraRank() + " (checkpoint: " + lm.loraRank() + ")");
    }
    if (!differ.isEmpty()) {
      throw new IllegalArgumentException(
          "train."
              + String.join(", train.", differ)
              + ": the models of "
              + checkpoint
              + " have other shapes; a resumed run keeps them (start a fresh run to change them)");
    }
  }

  /** Writes the models, the optimizer state and the step reached. */
  public void save(Path checkpoint) throws IOException {
    encoder.save(checkpoint.resolve("encoder"));
    reasoner.save(checkpoint.resolve("llm"));
    optimizer.save(checkpoint.resolve(OPTIMIZER_FILE), encoder.manager());
    if (step < config.visionSteps()) {
      vision.save(checkpoint, encoder.manager());
    }
    if (identity != null) {
      identity.weights().save(checkpoint, encoder.manager());
    }
    if (subject != null) {
      subject.weights().save(checkpoint, encoder.manager());
    }
    if (nameSubject != null) {
      nameSubject.weights().save(checkpoint, encoder.manager());
    }
    Files.writeString(checkpoint.resolve(STATE_FILE), "{\"step\":" + step + "}");
  }

  /**
   * Whether {@code name} is one of the LM's per-budget maps: embedding, norm gains, adapters, LoRA.
   */
  private static boolean isBudgetMap(String name) {
    return name.equals(Reasoner.BUDGET)
        || Reasoner.isNormBudgetGain(name)
        || Reasoner.isBudgetAdapter(name)
        || Reasoner.isBudgetLora(name);
  }

  /** Steps taken so far. */
  public int stepsTaken() {
    return step;
  }

  /** One optimisation step. */
  public StepResult step() {
    if (step < config.visionSteps()) {
      StepResult result = visionStep();
      step++;
      return result;
    }
    if ((config.freezeVision() || config.trains() != TrainConfig.Trains.ALL) && !keptFrozen) {
      // once, at the first step after stage 0 (or after a resume): no gradient for what stages 1
      // and 2 keep (the backbone, with stage 0's weights; or, per `trains`, the encoder, the LM or
      // every shared weight)
      parameters.forEach(
          (n, p) -> {
            if (!languageStages.containsKey(n)) {
              p.getArray().setRequiresGradient(false);
            }
          });
      keptFrozen = true;
    }
    // stages 1 and 2 count their steps from their start: with or without stage 0 they see the
    // same clips, questions, m and learning rates
    int s = step - config.visionSteps();
    Random random = Seeds.random(config.seed(), s);
    boolean align = s < config.alignmentSteps();
    // one m per group of the batch (mDrawsPerStep groups; the reference: one m per step); with
    // the sandwich rule the first group at M
    int[] ms = new int[align ? 1 : config.mDrawsPerStep()];
    for (int g = 0; g < ms.length; g++) {
      boolean atFull = align || (g == 0 && config.sandwich() && config.fixedM() == 0);
      ms[g] = atFull ? fullM() : draw.draw(random);
    }
    SyntheticWorld world =
        worlds.computeIfAbsent(config.curriculum().worldAt(s, config.world()), SyntheticWorld::new);
    List<Example> batch = new ArrayList<>();
    for (int i = 0; i < config.batchSize(); i++) {
      batch.add(example(world, random, align));
    }
    float lr = schedule.at(s);
    StepResult result = learn(batch, ms, lr, s + 1);
    step++;
    return result;
  }

  /** A stage-0 step: every frame of the batch's clips with its per-patch targets; m is 0. */
  private StepResult visionStep() {
    Random random = Seeds.random(~config.seed(), step);
    SyntheticWorld world = worlds.computeIfAbsent(config.world(), SyntheticWorld::new);
    int patch = config.encoder().vision().patchSize();
    List<FrameRecord> frames = new ArrayList<>();
    List<PatchTargets> targets = new ArrayList<>();
    for (int i = 0; i < config.batchSize(); i++) {
      Clip clip = world.clip(Split.TRAIN.seed(random.nextInt(1_000_000_000)));
      frames.addAll(cameraFrames.of(clip));
      for (int t = 0; t < clip.frames(); t++) {
        targets.add(PatchTargets.of(clip, t, patch));
      }
    }
    float lr = vision.learningRate(step);
    return trainOn(
        List.of(
            (ps, scope) ->
                vision.losses(ps, scope, encoder.preprocessor().batch(scope, frames), targets)),
        List.of(new Optimised(vision.parameters(), vision.optimizer())),
        lr,
        step + 1,
        0,
        config.batchSize());
  }

  /** A batch's forward pass: the loss to differentiate (in the batch's scope), the accuracy. */
  record Forward(NDArray loss, float accuracy) {}

  /** Parameters a step updates, with the optimizer that updates them. */
  private record Optimised(Map<String, Parameter> trained, AdamW adam) {}

  private static Optimised optimised(AuxiliaryWeights head) {
    return new Optimised(head.parameters(), head.optimizer());
  }

  /**
   * One optimisation step of either stage: runs each of {@code forwards} (the batch's groups, one
   * unless a step draws several m) in a scope closed after its backward pass, accumulates the
   * gradients of their mean loss, and updates each group of {@code optimised} with its optimizer,
   * each group's gradients clipped on their own (or skips the update and counts it when the loss or
   * the first group's gradients are not finite).
   *
   * @param m the step's m (0 in stage 0; its last group's with several: with the sandwich rule a
   *     drawn one)
   */
  private StepResult trainOn(
      List<java.util.function.BiFunction<ParameterStore, NDManager, Forward>> forwards,
      List<Optimised> optimised,
      float lr,
      int adamStep,
      int m,
      int examples) {
    float loss = 0;
    float accuracy = 0;
    int groups = forwards.size();
    try (GradientCollector gc =
        Engine.getEngine(Engines.pytorch().getEngineName()).newGradientCollector()) {
      for (java.util.function.BiFunction<ParameterStore, NDManager, Forward> forward : forwards) {
        // one graph per group, freed after its backward; the gradients add up across them
        try (NDManager scope = encoder.manager().newSubManager()) {
          Forward f = forward.apply(new ParameterStore(scope, false), scope);
          gc.backward(groups == 1 ? f.loss() : Scalars.over(f.loss(), groups));
          loss += f.loss().getFloat() / groups;
          accuracy += f.accuracy() / groups;
        }
      }
    }
    Optimised first = optimised.get(0);
    boolean updated = update(first.trained(), first.adam(), lr, adamStep, Float.isFinite(loss));
    for (Optimised o : optimised.subList(1, optimised.size())) {
      update(o.trained(), o.adam(), lr, adamStep, updated); // discarded when the first is
    }
    if (!updated) {
      skippedSteps++;
      log.warn(
          "step {}: non-finite loss or gradient (m={}); update skipped ({} so far)",
          step,
          m,
          skippedSteps);
    }
    return new StepResult(step, m, loss, accuracy, lr, examples);
  }

  /**
   * A clip's frames and its question-answer turns (stage 1: one turn, no question), with per turn
   * its subject's targets ({@link SubjectHead#targets}, null for a turn about no single object) and
   * the object name its question holds ({@link NameAttention#find}, null for none or without the
   * name loss).
   */
  private record Example(
      List<FrameRecord> frames,
      List<long[]> questions,
      List<long[]> answers,
      List<float[]> subjects,
      List<NameAttention.Name> names,
      float[] identities) {}

  private Example example(SyntheticWorld world, Random random, boolean align) {
    Clip clip = world.clip(Split.TRAIN.seed(random.nextInt(1_000_000_000)));
    List<Question> questions = world.questions(clip);
    while (!align && questions.isEmpty()) { // e.g. only position questions, objects near the middle
      clip = world.clip(Split.TRAIN.seed(random.nextInt(1_000_000_000)));
      questions = world.questions(clip);
    }
    TextTokenizer tok = reasoner.tokenizer();
    List<long[]> asked = new ArrayList<>();
    List<long[]> answers = new ArrayList<>();
    List<float[]> subjects = new ArrayList<>();
    List<NameAttention.Name> names = new ArrayList<>();
    if (align) {
      asked.add(new long[0]);
      answers.add(tok.encode(world.describe(clip, clip.frames() - 1)));
      subjects.add(null);
      names.add(null);
    } else {
      List<Question> left = new ArrayList<>(questions);
      while (asked.size() < config.questionsPerClip() && !left.isEmpty()) {
        Question q = Evaluator.pick(left, random);
        left.remove(q);
        long[] ids = tok.encode(q.text());
        asked.add(ids);
        answers.add(tok.encode(q.answer()));
        subjects.add(SubjectHead.targets(clip, q));
        names.add(nameIn(ids));
      }
    }
    return example(clip, asked, answers, subjects, names);
  }

  /** The object name a question's ids hold, for the name loss (null without it or for none). */
  private NameAttention.Name nameIn(long[] question) {
    return nameAttention == null ? null : nameAttention.find(question);
  }

  private Example example(
      Clip clip,
      List<long[]> asked,
      List<long[]> answers,
      List<float[]> subjects,
      List<NameAttention.Name> names) {
    return new Example(
        cameraFrames.of(clip),
        asked,
        answers,
        subjects,
        names,
        identity == null ? new float[0] : IdentityHead.targets(clip));
  }

  /**
   * A stage-1 or stage-2 step: the batch split into {@code ms.length} equal groups, group g at m =
   * ms[g]; the loss is the groups' mean, so a step costs what one group of the whole batch would at
   * the groups' mean m. The step's result reports the last group's m.
   */
  private StepResult learn(List<Example> batch, int[] ms, float lr, int adamStep) {
    List<Optimised> optimised = new ArrayList<>();
    optimised.add(new Optimised(languageStages, optimizer));
    if (identity != null) {
      optimised.add(optimised(identity.weights()));
    }
    if (subject != null) {
      optimised.add(optimised(subject.weights()));
    }
    if (nameSubject != null) {
      optimised.add(optimised(nameSubject.weights()));
    }
    int size = batch.size() / ms.length;
    // the teachers' answers live until the step's update; computed here, outside the gradient
    try (NDManager teachers = encoder.manager().newSubManager()) {
      List<java.util.function.BiFunction<ParameterStore, NDManager, Forward>> groups =
          new ArrayList<>();
      for (int g = 0; g < ms.length; g++) {
        List<Example> group = batch.subList(g * size, (g + 1) * size);
        int m = ms[g];
        NDArray teacher =
            config.distillWeight() > 0 && m < fullM() ? answersAtFullM(teachers, group) : null;
        groups.add((ps, scope) -> forward(ps, scope, group, m, teacher));
      }
      return trainOn(groups, optimised, lr, adamStep, ms[ms.length - 1], batch.size());
    }
  }

  /**
   * The model's own answer distribution over the vocabulary at every answer token of {@code batch}
   * (its targets, turn by turn, as {@link #targetLogits} orders them) at m = M: the distillation's
   * teacher, computed without gradient and in inference mode, kept in {@code teachers}.
   *
   * @return (N, V) probabilities, N = the batch's answer tokens with their ends
   */
  private NDArray answersAtFullM(NDManager teachers, List<Example> batch) {
    try (NDManager scope = teachers.newSubManager()) {
      Pass p = pass(new ParameterStore(scope, false), scope, batch, fullM(), false);
      NDArray probs = AnswerDistillation.teacher(targetLogits(scope, p.lm().logits(), p.in()));
      probs.attach(teachers);
      return probs;
    }
  }

  /**
   * The logits (R, L, V) at the positions that predict each turn's targets, turn after turn, token
   * after token: (N, V).
   */
  private static NDArray targetLogits(NDManager scope, NDArray logits, Inputs in) {
    long[] at = new long[in.targetCount()];
    int n = 0;
    for (int k = 0; k < in.targetIds().length; k++) {
      for (int j = 0; j < in.targetIds()[k].length; j++) {
        at[n++] = in.targetAt(k, j);
      }
    }
    return logits.reshape(-1, logits.getShape().get(2)).get(new NDIndex("{}", scope.create(at)));
  }

  /**
   * One group's teacher-forced loss (with the auxiliary losses) and accuracy at m; with a {@code
   * teacher} ({@link #answersAtFullM}, null for none) also the distillation loss toward it.
   */
  private Forward forward(
      ParameterStore ps, NDManager scope, List<Example> batch, int m, NDArray teacher) {
    Pass p = pass(ps, scope, batch, m, true);
    NDArray logits = p.lm().logits(); // (R, L, V)
    NDArray nll =
        Scalars.over(
            logits.logSoftmax(2).mul(p.in().targetMask()).sum().neg(), p.in().targetCount());
    if (teacher != null) { // (N, V): the answers at m against those at M
      NDArray student = targetLogits(scope, logits, p.in()); // (N, V)
      nll =
          nll.add(Scalars.times(AnswerDistillation.loss(student, teacher), config.distillWeight()));
    }
    if (identity != null) {
      nll =
          nll.add(
              identity.loss(
                  ps,
                  scope,
                  p.tokens(),
                  identities(batch.stream().map(Example::identities).toList())));
    }
    if (subject != null) {
      Subjects s = subjects(batch, p.in());
      if (s.at().length > 0) {
        nll = nll.add(subject.loss(ps, scope, p.lm().hidden(), s.at(), s.targets()));
      }
    }
    if (nameAttention != null) {
      long[] at = nameTargets(batch, p.in(), m);
      if (at.length > 0) {
        nll = nll.add(nameAttention.loss(scope, p.lm().attention(), at));
      }
    }
    if (nameSubject != null) {
      Subjects s = nameSubjects(batch, p.in(), m);
      if (s.at().length > 0) {
        nll = nll.add(nameSubject.loss(ps, scope, p.lm().layerHidden(), s.at(), s.targets()));
      }
    }
    return new Forward(nll, accuracy(logits, p.in()));
  }

  /** A batch's forward pass through the encoder and the LM, teacher-forced. */
  private record Pass(NDArray tokens, Inputs in, DecoderLm.Forward lm) {}

  private Pass pass(
      ParameterStore ps, NDManager scope, List<Example> batch, int m, boolean training) {
    List<FrameRecord> all = new ArrayList<>();
    batch.forEach(e -> all.addAll(e.frames()));
    NDArray images = encoder.preprocessor().batch(scope, all); // (B·T, 3, H, W)
    NDArray tokens = encoder.forward(ps, images, m, training); // (B·T, m, D)
    Inputs in = assemble(ps, scope, batch, tokens);
    return new Pass(
        tokens,
        in,
        reasoner
            .lm()
            .forward(
                ps,
                in.x(),
                in.positions(),
                in.pad(),
                null,
                false,
                nameAttention == null ? -1 : NameAttention.LAYER,
                budgets(in.positions().length, m),
                training));
  }

  /** Every row's budget: the batch's frames were all cut to m. */
  private static int[] budgets(int rows, int m) {
    int[] budgets = new int[rows];
    Arrays.fill(budgets, m);
    return budgets;
  }

  /** Per turn, its object name (null for none), in the order {@link #assemble} lays turns out. */
  private static List<NameAttention.Name> names(List<Example> batch) {
    List<NameAttention.Name> names = new ArrayList<>();
    batch.forEach(e -> names.addAll(e.names()));
    return names;
  }

  /** Per turn, the padded position of its object name in its row (−1 for none). */
  private static int[] nameAt(List<Example> batch, Inputs in) {
    List<Integer> nameAt = new ArrayList<>();
    int turn = 0;
    for (Example e : batch) {
      for (int k = 0; k < e.questions().size(); k++, turn++) {
        NameAttention.Name name = e.names().get(k);
        // the question's last token sits at the turn's first target; its token j that many before
        nameAt.add(
            name == null
                ? -1
                : in.firstTarget()[turn] - (e.questions().get(k).length - 1) + name.at());
      }
    }
    return nameAt.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * The batch's turns whose question names its subject by a name whose token is among the first m:
   * where each name stands in the LM's flattened (R·L) states, and the subject's {@link
   * SubjectHead#targets}, one after another.
   */
  private Subjects nameSubjects(List<Example> batch, Inputs in, int m) {
    TokenLayout layout = config.tokenLayout();
    List<NameAttention.Name> names = names(batch);
    List<float[]> subjects = new ArrayList<>();
    batch.forEach(e -> subjects.addAll(e.subjects()));
    int[] nameAt = nameAt(batch, in);
    long[] at = new long[names.size()];
    for (int k = 0; k < names.size(); k++) {
      NameAttention.Name name = names.get(k);
      boolean read = name != null && layout.within(name.identity(), m); // Subjects.of drops none
      at[k] = read ? (long) in.targetRow()[k] * in.positions()[0].length + nameAt[k] : -1;
    }
    return Subjects.of(at, subjects);
  }

  /** Where the first layer's heads should look from each name ({@link NameAttention#targets}). */
  private long[] nameTargets(List<Example> batch, Inputs in, int m) {
    return nameAttention.targets(
        names(batch),
        in.targetRow(),
        nameAt(batch, in),
        in.rowStart(), // frames first: a row's frames start right after its padding
        m,
        config.world().frames(),
        reasoner.config().heads(),
        in.positions()[0].length);
  }

  /**
   * The batch's turns about one object: where each is answered in the LM's flattened (R·L) states,
   * and their {@link SubjectHead#targets}, one after another.
   */
  private record Subjects(long[] at, float[] targets) {
    /** The turns with a place to read ({@code at} ≥ 0) and a subject, in order. */
    static Subjects of(long[] at, List<float[]> perTurn) {
      List<Long> kept = new ArrayList<>();
      List<float[]> targets = new ArrayList<>();
      for (int k = 0; k < perTurn.size(); k++) {
        if (at[k] >= 0 && perTurn.get(k) != null) {
          kept.add(at[k]);
          targets.add(perTurn.get(k));
        }
      }
      float[] flat = new float[targets.stream().mapToInt(t -> t.length).sum()];
      int offset = 0;
      for (float[] t : targets) {
        System.arraycopy(t, 0, flat, offset, t.length);
        offset += t.length;
      }
      return new Subjects(kept.stream().mapToLong(Long::longValue).toArray(), flat);
    }
  }

  private static Subjects subjects(List<Example> batch, Inputs in) {
    List<float[]> perTurn = new ArrayList<>(); // in the order assemble lays the turns out
    batch.forEach(e -> perTurn.addAll(e.subjects()));
    long[] at = new long[perTurn.size()];
    for (int k = 0; k < at.length; k++) {
      at[k] = in.targetAt(k, 0);
    }
    return Subjects.of(at, perTurn);
  }

  /** Clips' identity targets, one after another, frame after frame as the frames are encoded. */
  static float[] identities(List<float[]> perClip) {
    int each = perClip.get(0).length;
    float[] out = new float[perClip.size() * each];
    for (int i = 0; i < perClip.size(); i++) {
      System.arraycopy(perClip.get(i), 0, out, i * each, each);
    }
    return out;
  }

  /**
   * The LM's teacher-forced inputs, left-padded to the longest row. Frames first, a row per
   * example: [frames' m tokens + frame index, then per turn sep, question, answer, and {@code
   * <eos>} between turns]. Question first, a row per turn (its frames' tokens shared): [question,
   * sep, frames' m tokens + frame index, sep, answer]. Each turn's targets are its answer tokens
   * then {@code <eos>}, predicted from the position before each. A row's first turn is exactly the
   * prompt the engine builds ({@link Reasoner#embed}, for question first the same method).
   *
   * @param x (R, L, D)
   * @param targetMask (R, L, V) one at each target token
   * @param targetRow per turn, its row
   * @param targetIds per turn, the answer then {@code <eos>}
   * @param firstTarget per turn, the padded position that predicts the first answer token
   * @param rowStart per row, the padded position of its first token (its left padding's length)
   */
  private record Inputs(
      NDArray x,
      long[][] positions,
      float[][] pad,
      NDArray targetMask,
      int targetCount,
      int[] targetRow,
      long[][] targetIds,
      int[] firstTarget,
      int[] rowStart) {
    /** Where turn k's target j is predicted, in the flattened (R·L) positions. */
    int targetAt(int k, int j) {
      return targetRow[k] * positions[0].length + firstTarget[k] + j;
    }
  }

  /** One row of the LM's input: its embeddings (L, D), and per turn its targets and where. */
  private record Row(NDArray x, List<long[]> targets, List<Integer> firstTarget) {}

  private Inputs assemble(ParameterStore ps, NDManager scope, List<Example> batch, NDArray tokens) {
    List<Row> rows = new ArrayList<>();
    int longest = 0;
    for (int i = 0; i < batch.size(); i++) {
      rows.addAll(rows(ps, scope, batch.get(i), tokens, i));
    }
    for (Row row : rows) {
      longest = Math.max(longest, (int) row.x().getShape().get(0));
    }
    int b = rows.size();
    int vocab = reasoner.config().vocab();
    long[][] positions = new long[b][longest];
    float[][] pad = new float[b][longest];
    List<long[]> targetIds = new ArrayList<>();
    List<Integer> targetRow = new ArrayList<>();
    List<Integer> firstTarget = new ArrayList<>();
    ByteBuffer mask =
        ByteBuffer.allocateDirect(b * longest * vocab * Float.BYTES).order(ByteOrder.nativeOrder());
    NDList padded = new NDList();
    int[] rowStart = new int[b];
    int count = 0;
    for (int i = 0; i < b; i++) {
      Row row = rows.get(i);
      int left = longest - (int) row.x().getShape().get(0);
      rowStart[i] = left;
      padded.add(
          left == 0
              ? row.x()
              : NDArrays.concat(
                  new NDList(scope.zeros(new Shape(left, row.x().getShape().get(1))), row.x()), 0));
      for (int t = 0; t < longest; t++) {
        positions[i][t] = Math.max(0, t - left);
        pad[i][t] = t < left ? -1e9f : 0f;
      }
      for (int k = 0; k < row.targets().size(); k++) {
        long[] ids = row.targets().get(k);
        int first = left + row.firstTarget().get(k);
        for (int j = 0; j < ids.length; j++) {
          mask.putFloat((((i * longest) + first + j) * vocab + (int) ids[j]) * Float.BYTES, 1f);
          count++;
        }
        targetIds.add(ids);
        targetRow.add(i);
        firstTarget.add(first);
      }
    }
    NDArray targetMask = Tensors.create(scope, mask, new Shape(b, longest, vocab));
    return new Inputs(
        NDArrays.stack(padded),
        positions,
        pad,
        targetMask,
        count,
        targetRow.stream().mapToInt(Integer::intValue).toArray(),
        targetIds.toArray(long[][]::new),
        firstTarget.stream().mapToInt(Integer::intValue).toArray(),
        rowStart);
  }

  /** Example {@code i}'s rows: one (frames first) or one per turn (question first). */
  private List<Row> rows(ParameterStore ps, NDManager scope, Example e, NDArray tokens, int i) {
    DecoderLm lm = reasoner.lm();
    int frames = e.frames().size();
    List<NDArray> clip = new ArrayList<>();
    for (int t = 0; t < frames; t++) {
      clip.add(tokens.get(i * frames + t)); // (m, D)
    }
    Turns turns = turns(e);
    if (reasoner.config().promptOrder() == LmConfig.PromptOrder.QUESTION_FIRST) {
      List<Row> rows = new ArrayList<>();
      for (int k = 0; k < e.questions().size(); k++) {
        NDArray prompt = reasoner.embed(ps, scope, clip, e.questions().get(k), true); // (P, D)
        NDArray answer =
            lm.embedTokens(ps, scope, new long[][] {e.answers().get(k)}, true).squeeze(0); // (a, D)
        int predicting = (int) prompt.getShape().get(0) - 1;
        rows.add(
            new Row(
                NDArrays.concat(new NDList(prompt, answer), 0),
                List.of(turns.targets()[k]),
                List.of(predicting)));
      }
      return rows;
    }
    // the engine's prompt with an empty question, [frames' tokens + frame index, sep], then the
    // turns' text after its leading sep
    NDArray frameTokens = reasoner.embed(ps, scope, clip, new long[0], true); // (Σm + 1, D)
    long[] text = turns.text();
    NDArray rest =
        lm.embedTokens(ps, scope, new long[][] {Arrays.copyOfRange(text, 1, text.length)}, true)
            .squeeze(0); // (text - 1, D)
    int visual = (int) frameTokens.getShape().get(0) - 1; // text index k sits at visual + k
    List<Integer> first = new ArrayList<>();
    for (int k : turns.firstTarget()) {
      first.add(visual + k);
    }
    return List.of(
        new Row(
            NDArrays.concat(new NDList(frameTokens, rest), 0),
            List.of(turns.targets()),
            first)); // (L_i, D)
  }

  private Turns turns(Example e) {
    return Turns.of(
        e.questions(), e.answers(), reasoner.tokenizer().sep(), reasoner.tokenizer().eos());
  }

  /**
   * An example's text after its frames and where each turn's targets are.
   *
   * @param text per turn: sep, question, answer; {@code <eos>} between turns
   * @param targets per turn: its answer then {@code <eos>}
   * @param firstTarget per turn: the index in {@code text} that predicts the turn's first target
   *     (its question's last token, or its sep when the question is empty); target j is predicted
   *     at {@code firstTarget + j}
   */
  record Turns(long[] text, long[][] targets, int[] firstTarget) {
    static Turns of(List<long[]> questions, List<long[]> answers, long sep, long eos) {
      List<Long> text = new ArrayList<>();
      long[][] targets = new long[answers.size()][];
      int[] first = new int[answers.size()];
      for (int k = 0; k < answers.size(); k++) {
        if (k > 0) {
          text.add(eos);
        }
        text.add(sep);
        for (long id : questions.get(k)) {
          text.add(id);
        }
        first[k] = text.size() - 1;
        for (long id : answers.get(k)) {
          text.add(id);
        }
        targets[k] = Arrays.copyOf(answers.get(k), answers.get(k).length + 1);
        targets[k][answers.get(k).length] = eos;
      }
      return new Turns(text.stream().mapToLong(Long::longValue).toArray(), targets, first);
    }
  }

  /** Share of answers (turns) whose every token (and the end) is the model's top choice. */
  private static float accuracy(NDArray logits, Inputs in) {
    long[] best = logits.argMax(2).toLongArray(); // (B, L) flattened
    int right = 0;
    for (int i = 0; i < in.targetIds().length; i++) {
      boolean ok = true;
      for (int k = 0; k < in.targetIds()[i].length; k++) {
        ok &= best[in.targetAt(i, k)] == in.targetIds()[i][k];
      }
      right += ok ? 1 : 0;
    }
    return (float) right / in.targetIds().length;
  }

  /** M, the encoder's latent queries: stage 1's m, the sandwich's and the teacher's. */
  private int fullM() {
    return config.encoder().mqt().maxTokens();
  }

  private void trainable(String name, Parameter p) {
    if (p.requiresGradient()) {
      parameters.put(name, p);
    }
  }

  /**
   * Clips and applies the gradients of {@code trained}; returns false, discarding them and changing
   * no weight, when the loss or the gradient norm is not finite (one such step once turned every
   * weight of a baseline run into NaN: a NaN norm also slips past the clip).
   */
  private boolean update(
      Map<String, Parameter> trained, AdamW adam, float lr, int adamStep, boolean finiteLoss) {
    try (NDManager scratch = encoder.manager().newSubManager()) {
      Map<String, NDArray> grads = new LinkedHashMap<>();
      double sumSquares = 0;
      for (Map.Entry<String, Parameter> e : trained.entrySet()) {
        NDArray g = AdamW.local(scratch, e.getValue().getArray().getGradient());
        grads.put(e.getKey(), g);
        sumSquares += AdamW.local(scratch, AdamW.local(scratch, g.square()).sum()).getFloat();
      }
      float norm = (float) Math.sqrt(sumSquares);
      if (!finiteLoss || !Float.isFinite(norm)) {
        grads.values().forEach(Trainer::clear); // discard: the next backward adds into these
        return false;
      }
      if (norm > config.clipNorm()) {
        grads.values().forEach(g -> g.muli(config.clipNorm() / norm));
      }
      adam.update(grads, lr, adamStep, scratch);
      grads.values().forEach(Trainer::clear); // the next backward adds into these buffers
      return true;
    }
  }

  /**
   * Zeroes a gradient buffer in place: the next backward adds into it (multiplying by 0 would keep
   * a NaN, 0 · NaN = NaN).
   */
  static void clear(NDArray gradient) {
    gradient.set(new ai.djl.ndarray.index.NDIndex("..."), 0f);
  }

  /**
   * The identity head's errors on every frame of {@code clips} at {@code m} (no gradient, no
   * update): how well the tokens say which objects each frame shows, {binary cross-entropy, places'
   * mean squared error or NaN without {@code identityPlaces}, motion's mean squared error or NaN
   * without {@code identityMotion}}, then with {@code identityTokens} the same three read from each
   * identity's own token ({@link IdentityHead#errors}).
   *
   * @throws IllegalStateException when the run has no identity loss ({@code identityWeight} 0)
   */
  float[] identityErrors(List<Clip> clips, int m) {
    if (identity == null) {
      throw new IllegalStateException("this run has no identity head (identityWeight 0)");
    }
    List<FrameRecord> frames = new ArrayList<>();
    clips.forEach(clip -> frames.addAll(cameraFrames.of(clip)));
    float[] targets = identities(clips.stream().map(IdentityHead::targets).toList());
    try (NDManager scope = encoder.manager().newSubManager()) {
      ParameterStore ps = new ParameterStore(scope, false);
      NDArray tokens =
          encoder.forward(ps, encoder.preprocessor().batch(scope, frames), m, false); // (N, m, D)
      NDList errors = identity.errors(ps, scope, tokens, targets);
      float[] out = new float[errors.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = errors.get(i).getFloat();
      }
      return out;
    }
  }

  /**
   * The subject head's error on {@code clips} at {@code m} (no gradient, no update): each clip
   * asked its questions about one object (up to {@code questionsPerClip}, in the world's order),
   * the mean squared error of those objects' places read from the LM's states where it answers
   * ({@link SubjectHead#error}).
   *
   * @throws IllegalStateException when the run has no subject loss ({@code subjectWeight} 0)
   */
  float subjectError(List<Clip> clips, int m) {
    if (subject == null) {
      throw new IllegalStateException("this run has no subject head (subjectWeight 0)");
    }
    return aboutOneObject(
        clips,
        m,
        (ps, scope, batch, p) -> {
          Subjects s = subjects(batch, p.in());
          return subject.error(ps, scope, p.lm().hidden(), s.at(), s.targets()).getFloat();
        });
  }

  /**
   * The name-subject head's error on {@code clips} at {@code m} (no gradient, no update), as {@link
   * #subjectError} but read from the first layer's output at each question's object name; NaN when
   * no name's token is among the first m.
   *
   * @throws IllegalStateException when the run has no such read ({@code nameSubject} 0)
   */
  float nameSubjectError(List<Clip> clips, int m) {
    if (nameSubject == null) {
      throw new IllegalStateException("this run has no name-subject head (nameSubject 0)");
    }
    return aboutOneObject(
        clips,
        m,
        (ps, scope, batch, p) -> {
          Subjects s = nameSubjects(batch, p.in(), m);
          return s.at().length == 0
              ? Float.NaN
              : nameSubject.error(ps, scope, p.lm().layerHidden(), s.at(), s.targets()).getFloat();
        });
  }

  /**
   * The name loss's error on {@code clips} at {@code m} (no gradient, no update): each clip asked
   * its questions about one object as {@link #subjectError} asks them, the mean −log of the first
   * layer's attention on each named object's token, or with {@code nameSummary} on the summary
   * beyond m ({@link NameAttention#error}); NaN when the loss has no target.
   *
   * @throws IllegalStateException when the run has no name loss ({@code nameAttention} 0)
   */
  float nameError(List<Clip> clips, int m) {
    if (nameAttention == null) {
      throw new IllegalStateException("this run has no name loss (nameAttention 0)");
    }
    return aboutOneObject(
        clips,
        m,
        (ps, scope, batch, p) -> {
          long[] at = nameTargets(batch, p.in(), m);
          return at.length == 0
              ? Float.NaN
              : NameAttention.error(scope, p.lm().attention(), at).getFloat();
        });
  }

  /**
   * What the name loss pairs on {@code clips} at {@code m}, for tests to check against the inputs:
   * its flat targets into (R, H, L, L), the LM's input rows (R, L, D) and the frames' tokens (R·T,
   * m, D), each flattened.
   */
  record NameLookups(long[] at, float[] inputs, long length, float[] tokens, long[] subjectAt) {}

  /**
   * {@link NameLookups} on {@code clips} at {@code m}, with where the name-subject read reads: flat
   * indices into the LM's (R·L) positions (empty without {@code nameSubject}).
   */
  NameLookups nameLookups(List<Clip> clips, int m) {
    return aboutOneObject(
        clips,
        m,
        (ps, scope, batch, p) ->
            new NameLookups(
                nameTargets(batch, p.in(), m),
                p.in().x().toFloatArray(),
                p.in().x().getShape().get(1),
                p.tokens().toFloatArray(),
                nameSubject == null ? new long[0] : nameSubjects(batch, p.in(), m).at()));
  }

  /** A read of a held-out pass, made before the pass's scope closes. */
  private interface HeldOutRead<T> {
    T apply(ParameterStore ps, NDManager scope, List<Example> batch, Pass pass);
  }

  /**
   * {@code read} of one pass (no gradient, no update) over {@code clips}' questions about one
   * object at {@code m}, in a scope closed before it returns.
   */
  private <T> T aboutOneObject(List<Clip> clips, int m, HeldOutRead<T> read) {
    List<Example> batch = aboutOneObject(clips);
    try (NDManager scope = encoder.manager().newSubManager()) {
      ParameterStore ps = new ParameterStore(scope, false);
      return read.apply(ps, scope, batch, pass(ps, scope, batch, m, false));
    }
  }

  /** Per clip, its questions about one object (up to {@code questionsPerClip}, world order). */
  private List<Example> aboutOneObject(List<Clip> clips) {
    SyntheticWorld world = worlds.computeIfAbsent(config.world(), SyntheticWorld::new);
    TextTokenizer tok = reasoner.tokenizer();
    List<Example> batch = new ArrayList<>();
    for (Clip clip : clips) {
      List<long[]> asked = new ArrayList<>();
      List<long[]> answers = new ArrayList<>();
      List<float[]> subjects = new ArrayList<>();
      List<NameAttention.Name> names = new ArrayList<>();
      for (Question q : world.questions(clip)) {
        if (q.subject() != null && asked.size() < config.questionsPerClip()) {
          long[] ids = tok.encode(q.text());
          asked.add(ids);
          answers.add(tok.encode(q.answer()));
          subjects.add(SubjectHead.targets(clip, q));
          names.add(nameIn(ids));
        }
      }
      if (!asked.isEmpty()) {
        batch.add(example(clip, asked, answers, subjects, names));
      }
    }
    return batch;
  }

  /** Steps whose update was skipped because the loss or the gradients were not finite. */
  public int skippedSteps() {
    return skippedSteps;
  }

  public MqtEncoder encoder() {
    return encoder;
  }

  public Reasoner reasoner() {
    return reasoner;
  }

  @Override
  public void close() {
    encoder.close();
    reasoner.close();
  }
}
