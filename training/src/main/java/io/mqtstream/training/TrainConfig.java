package io.mqtstream.training;

import io.mqtstream.encoder.EncoderConfig;
import io.mqtstream.reasoner.LmConfig;
import io.mqtstream.world.WorldConfig;
import java.util.List;

/**
 * A training run: the models' shapes, the world, and the optimisation.
 *
 * @param seed seeds the weights and every step's examples and m
 * @param steps optimisation steps in all
 * @param visionSteps the first steps: stage 0, the vision backbone alone learns what lies in each
 *     patch ({@link VisionStage}); 0 = none
 * @param objectSlots whether stage 0 also learns each object's slot, identity and place at its
 *     centre ({@link PatchTargets#slots()})
 * @param alignmentSteps the steps after those: stage 1, scene descriptions at m = M
 * @param batchSize clips per step
 * @param learningRate peak learning rate
 * @param warmupSteps linear warm-up
 * @param weightDecay AdamW decoupled decay
 * @param clipNorm global gradient-norm clip
 * @param fixedM 0 for the Matryoshka draw (even m in 2..M), else train at this m only
 * @param questionsPerClip question-answer turns per clip in stage 2, one after another after the
 *     clip's tokens, as in LLaVA's multi-turn conversations: the frames are encoded once for all of
 *     them (4 turns cost ~1.3× the time of one step with a single question, see the model card)
 * @param curriculum object counts by step ({@link Curriculum#NONE} for the world's own range)
 * @param queryInit how a fresh run's latent queries start looking at the patches
 * @param promptOrder where the question stands in the LM's input; question first, stage 2 trains a
 *     row per turn (the clip's tokens encoded once, read by every turn's row)
 * @param freezeVision whether the vision backbone keeps, in stages 1 and 2, the weights stage 0
 *     left it (only the MQT and the LM train); false: everything trains
 * @param identityWeight weight, in stages 1 and 2, of an auxiliary loss that reads from the mean of
 *     each frame's first m tokens which objects (colour × shape) the frame shows ({@link
 *     IdentityHead}); 0 = none
 * @param identityPlaces whether that head also reads each shown object's place (x, y) from the same
 *     mean (squared error over the objects shown), so the tokens keep who is where
 * @param identityMotion weight of a third read of that head: from the difference of two consecutive
 *     frames' means, how far each object shown in both moved (squared error), so that a change of
 *     place between frames is in the tokens as precisely as a direction question needs; 0 = none
 * @param identityTokens weight of the head's reads from each identity's own token (token 1 + i
 *     holds identity i: whether it is shown, where, and with {@code identityMotion} how far it
 *     moved; {@link IdentityHead}), so an object can be found by attending to one token; 0 = none
 * @param subjectWeight weight, in stage 2, of an auxiliary loss on the LM: at each turn about one
 *     object, its final hidden state where it answers says where that object is in each frame
 *     ({@link SubjectHead}), so the LM learns to find the object a question names; 0 = none
 * @param tokenIndex whether the LM adds a learned embedding of each visual token's index within its
 *     frame ({@link LmConfig#tokenIndex()}), so it can attend to "token k of frame t" (with {@code
 *     identityTokens}, the token of the object a question names) whatever m is
 * @param objectNames whether the tokenizer reads each object's name (colour and shape, "red
 *     circle") as one token ({@link io.mqtstream.world.SyntheticWorld#objectNames()}), so a
 *     question names its object by one token, as "what colour is the circle?" does, instead of two
 *     the LM must combine; a run started from a model without them adds them ({@link
 *     io.mqtstream.reasoner.Reasoner#withTokenizer})
 * @param nameAttention weight, in stage 2, of an auxiliary loss on where the LM looks: at each
 *     object name in a question, head h of its first layer attends to that object's own token (1 +
 *     i, with {@code identityTokens}) in frame T − 1 − h ({@link NameAttention}), so the name finds
 *     its object's place in the last frames; 0 = none
 * @param frameDifference whether each visual token the LM reads also carries a learned linear map
 *     of its change since the frame before ({@link LmConfig#frameDifference()}), so the token a
 *     name finds says which way its object moves as well as where it is; a run started from a model
 *     without one adds it at zero
 * @param nameSubject weight, in stage 2, of a read of the named object's place in every frame from
 *     the output of the LM's first layer at its name ({@link SubjectHead.Reads#NAME}, where the
 *     name loss gathers its tokens), so what is gathered keeps the frames apart; needs {@code
 *     nameAttention}; 0 = none
 * @param mDrawPower how the Matryoshka objective draws each step's m from the even numbers 2..M
 *     (ignored with {@code fixedM}): with weight m^-mDrawPower; 0 = uniformly, the reference's
 *     draw; 1 = log-uniformly, every doubling of m about as often (half the steps at m <= 8 when M
 *     = 64), a departure from the reference for the small budgets the engine falls back to under
 *     load
 * @param mDrawsPerStep how many m a stage-2 step draws: the batch is split into that many equal
 *     groups, each at its own m, and the loss is their mean, so every update mixes budgets instead
 *     of following one; 1 = one m per step, the reference's; must divide {@code batchSize}
 * @param distillWeight weight, in stage 2, of a distillation loss at every drawn m below M: the
 *     answer tokens' cross-entropy against the same model's answer distribution at m = M (computed
 *     first, without gradient), so a small budget learns what the full one would say, not only the
 *     right token (as slimmable networks' in-place distillation trains narrow widths from the full
 *     one); a departure from the reference; 0 = none
 * @param sandwich whether the first group of every stage-2 step (of {@code mDrawsPerStep} >= 2)
 *     trains at m = M instead of a drawn m, so the full budget, the distillation's teacher, learns
 *     on every step (the "sandwich rule" of universally slimmable networks, which train the largest
 *     width on every step); ignored with {@code fixedM}; false = every group drawn
 * @param mChoices the m the Matryoshka objective draws from, ascending, each in 1..M (ignored with
 *     {@code fixedM}); empty = the even numbers 2..M, the reference's; e.g. the engine's budget
 *     ladder 2, 4, 8, 16, 32, so every step trains an m the engine serves (a departure)
 * @param nameSummary with {@code nameAttention}: whether a name whose own token lies beyond m (1 +
 *     i >= m) has the same heads look at the frame's summary, token 0, instead of nowhere, so at a
 *     small budget the LM reads the object it is asked about from the summary; changes nothing at m
 *     > 15, where every identity has its token (a departure); false = those names are not asked
 *     about
 * @param summaryTokens with {@code identityTokens}: how many of a frame's first tokens are its
 *     summaries before the identities' own tokens ({@link TokenLayout}: identity i's is 1 + i,
 *     those that would fall among the summaries move past the fifteenth), so a small budget is all
 *     summaries (a departure); 1 = token 0 alone, the layout of v16 to v18
 * @param budgetEmbedding whether the LM adds a learned embedding of the budget m to each of a
 *     frame's m tokens ({@link LmConfig#budget()}), so it can read a frame's first four tokens
 *     otherwise than the first sixty-four (the tokens are the same; only the reading can change);
 *     the engine's budget is the frame's token count, so nothing else carries it (a departure); a
 *     run started from a model without one adds it at zero
 * @param budgetRateScale with {@code budgetEmbedding} or {@code budgetNorms}: the learning rate of
 *     the budget embedding and of the per-budget norm gains, adapters and LoRA maps as a multiple
 *     of the run's ({@link AdamW#scaleRate}), so a map added at zero to a model fine-tuned at a low
 *     rate can move as far as one trained from the start (a departure); 1 = the run's rate
 * @param budgetNorms switchable norms ({@link LmConfig#normBudgets()}): the smallest m of each set
 *     of per-budget gains in every norm of the LM, ascending, from 1 to M, e.g. the engine's budget
 *     ladder [2, 4, 8, 16, 32, 64]; every budget keeps its own scale in every layer, as slimmable
 *     networks keep a norm per width (a departure); a run started from a model without them adds
 *     them at zero; empty = none
 * @param budgetAdapterRank per-budget adapters ({@link LmConfig#adapterRank()}): with {@code
 *     budgetNorms}, every LM layer also keeps, per set, a low-rank adapter of this rank beside its
 *     MLP, so each budget owns a little capacity in every layer, not only a scale (a departure); a
 *     run started from a model without them adds them with their up maps at zero; 0 = none
 * @param budgetLoraRank per-budget LoRA ({@link LmConfig#loraRank()}): with {@code budgetNorms},
 *     every projection of every LM layer (q, k, v, o, gate, up, down) also keeps, per set, a
 *     low-rank update of this rank, so a budget can change how the LM attends and what its MLPs
 *     compute (a departure); a run started from a model without them adds them with their B maps at
 *     zero; 0 = none
 * @param trains what stages 1 and 2 train ({@link Trains}): all of it (every run until v18), the
 *     encoder alone or the LM alone, the other keeping the weights it starts with (a diagnostic of
 *     where a budget's accuracy is lost), or the LM's per-budget maps alone, every shared weight
 *     kept; null = all
 */
public record TrainConfig(
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
    EncoderConfig encoder,
    LmConfig.Norm norm,
    int lmLayers,
    int lmHeads,
    int lmFfn,
    WorldConfig world,
    Curriculum curriculum,
    QueryInit queryInit,
    LmConfig.PromptOrder promptOrder,
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
    Trains trains) {

  /** Which model stages 1 and 2 train; the heads dropped afterwards train in every case. */
  public enum Trains {
    /** The encoder (vision backbone, unless {@code freezeVision}, and MQT) and the LM. */
    ALL,
    /** The encoder alone: the LM keeps its weights, gradients pass through it. */
    ENCODER,
    /** The LM alone: the encoder keeps its weights. */
    LLM,
    /**
     * The LM's per-budget maps alone (budget embedding, norm gains, adapters): every shared weight
     * is kept, so only the budgets whose maps train answer otherwise.
     */
    BUDGET
  }

  /** Where a fresh run's latent queries start looking. */
  public enum QueryInit {
    /** Random weights: each query pools most of the frame. */
    RANDOM,
    /** Coarse to fine regions, fitted before training ({@link QueryPyramid}). */
    PYRAMID
  }

  public TrainConfig {
    curriculum = curriculum == null ? Curriculum.NONE : curriculum;
    queryInit = queryInit == null ? QueryInit.RANDOM : queryInit;
    trains = trains == null ? Trains.ALL : trains;
    promptOrder = promptOrder == null ? LmConfig.PromptOrder.FRAMES_FIRST : promptOrder;
    mChoices = budgets("train.mChoices", mChoices, encoder.mqt().maxTokens());
    String noPyramid =
        queryInit == QueryInit.PYRAMID ? QueryPyramid.unsupported(encoder.mqt()) : null;
    if (noPyramid != null) {
      throw new IllegalArgumentException("train.queryInit: pyramid " + noPyramid);
    }
    if (steps < 1 || batchSize < 1 || alignmentSteps < 0 || alignmentSteps > steps) {
      throw new IllegalArgumentException(
          "train: need steps >= 1, batchSize >= 1, 0 <= alignmentSteps <= steps");
    }
    if (visionSteps < 0 || visionSteps + alignmentSteps > steps) {
      throw new IllegalArgumentException(
          "train.visionSteps: need 0 <= visionSteps and visionSteps + alignmentSteps <= steps");
    }
    if (!(mDrawPower >= 0) || Float.isInfinite(mDrawPower)) {
      throw new IllegalArgumentException("train.mDrawPower: must be a number >= 0");
    }
    if (!(distillWeight >= 0) || Float.isInfinite(distillWeight)) {
      throw new IllegalArgumentException("train.distillWeight: must be a number >= 0");
    }
    if (sandwich && mDrawsPerStep < 2) {
      throw new IllegalArgumentException(
          "train.sandwich: needs mDrawsPerStep >= 2 (one group at M, the others drawn)");
    }
    if (mDrawsPerStep < 1 || batchSize % mDrawsPerStep != 0) {
      throw new IllegalArgumentException(
          "train.mDrawsPerStep: must be >= 1 and divide batchSize (" + batchSize + ")");
    }
    if (fixedM < 0 || fixedM > encoder.mqt().maxTokens()) {
      throw new IllegalArgumentException("train.fixedM: must be 0 (Matryoshka) or 1..M");
    }
    if (!(identityWeight >= 0) || Float.isInfinite(identityWeight)) {
      throw new IllegalArgumentException("train.identityWeight: must be a number >= 0");
    }
    if (identityPlaces && identityWeight == 0) {
      throw new IllegalArgumentException(
          "train.identityPlaces: needs identityWeight > 0 (the places are read by its head)");
    }
    if (!(identityMotion >= 0) || Float.isInfinite(identityMotion)) {
      throw new IllegalArgumentException("train.identityMotion: must be a number >= 0");
    }
    if (identityMotion > 0 && (identityWeight == 0 || world.frames() < 2)) {
      throw new IllegalArgumentException(
          "train.identityMotion: needs identityWeight > 0 (its head reads the motion) and"
              + " world.frames >= 2");
    }
    if (!(identityTokens >= 0) || Float.isInfinite(identityTokens)) {
      throw new IllegalArgumentException("train.identityTokens: must be a number >= 0");
    }
    if (identityTokens > 0 && (identityWeight == 0 || !identityPlaces)) {
      throw new IllegalArgumentException(
          "train.identityTokens: needs identityWeight > 0 and identityPlaces (its head reads the"
              + " tokens)");
    }
    if (identityTokens > 0 && encoder.mqt().maxTokens() <= PatchTargets.SLOTS) {
      throw new IllegalArgumentException(
          "train.identityTokens: needs more than "
              + PatchTargets.SLOTS
              + " latent queries (a summary token and one per identity), the encoder has "
              + encoder.mqt().maxTokens());
    }
    if (!(subjectWeight >= 0) || Float.isInfinite(subjectWeight)) {
      throw new IllegalArgumentException("train.subjectWeight: must be a number >= 0");
    }
    if (!(nameAttention >= 0) || Float.isInfinite(nameAttention)) {
      throw new IllegalArgumentException("train.nameAttention: must be a number >= 0");
    }
    if (nameAttention > 0
        && (identityTokens == 0
            || !objectNames
            || promptOrder != LmConfig.PromptOrder.FRAMES_FIRST)) {
      throw new IllegalArgumentException(
          "train.nameAttention: needs identityTokens > 0 (the tokens it looks at), objectNames"
              + " (the names it looks from) and promptOrder frames-first");
    }
    if (!(nameSubject >= 0) || Float.isInfinite(nameSubject)) {
      throw new IllegalArgumentException("train.nameSubject: must be a number >= 0");
    }
    if (nameSubject > 0 && nameAttention == 0) {
      throw new IllegalArgumentException(
          "train.nameSubject: needs nameAttention > 0 (the heads whose gathering it reads)");
    }
    if (nameSummary && nameAttention == 0) {
      throw new IllegalArgumentException(
          "train.nameSummary: needs nameAttention > 0 (the heads it points at the summary)");
    }
    if (summaryTokens < 1) {
      throw new IllegalArgumentException("train.summaryTokens: must be >= 1");
    }
    if (summaryTokens > 1 && identityTokens == 0) {
      throw new IllegalArgumentException(
          "train.summaryTokens: more than 1 needs identityTokens > 0 (the tokens it moves)");
    }
    int needed = new TokenLayout(summaryTokens).tokensNeeded(); // the fields are not set yet
    if (identityTokens > 0 && encoder.mqt().maxTokens() < needed) {
      throw new IllegalArgumentException(
          "train.summaryTokens: "
              + summaryTokens
              + " summaries and a token per identity need "
              + needed
              + " latent queries, the encoder has "
              + encoder.mqt().maxTokens());
    }
    if (!(budgetRateScale > 0) || !Float.isFinite(budgetRateScale)) {
      throw new IllegalArgumentException(
          "train.budgetRateScale: must be a number above 0, got " + budgetRateScale);
    }
    budgetNorms = budgets("train.budgetNorms", budgetNorms, encoder.mqt().maxTokens());
    if (budgetAdapterRank < 0 || (budgetAdapterRank > 0 && budgetNorms.isEmpty())) {
      throw new IllegalArgumentException(
          "train.budgetAdapterRank: must be 0, or >= 1 with budgetNorms (the sets it keeps an"
              + " adapter for), got "
              + budgetAdapterRank);
    }
    if (budgetLoraRank < 0 || (budgetLoraRank > 0 && budgetNorms.isEmpty())) {
      throw new IllegalArgumentException(
          "train.budgetLoraRank: must be 0, or >= 1 with budgetNorms (the sets it keeps updates"
              + " for), got "
              + budgetLoraRank);
    }
    if (trains == Trains.BUDGET && !budgetEmbedding && budgetNorms.isEmpty()) {
      throw new IllegalArgumentException(
          "train.trains: budget needs budgetEmbedding or budgetNorms (the maps it trains)");
    }
    if (budgetRateScale != 1 && !budgetEmbedding && budgetNorms.isEmpty()) {
      throw new IllegalArgumentException(
          "train.budgetRateScale: "
              + budgetRateScale
              + " needs budgetEmbedding or budgetNorms (the rate it scales)");
    }
    if (questionsPerClip < 1) {
      throw new IllegalArgumentException("train.questionsPerClip: must be >= 1");
    }
    if (world.imageSize() != encoder.vision().imageSize()) {
      throw new IllegalArgumentException(
          "train.world.imageSize must equal the encoder's image size");
    }
  }

  /** A list of budgets (null = none), which must ascend, each in 1..M; failing, names the key. */
  private static List<Integer> budgets(String key, List<Integer> list, int maxTokens) {
    List<Integer> ms = list == null ? List.of() : list;
    for (int i = 0; i < ms.size(); i++) {
      Integer m = ms.get(i);
      if (m == null || m < 1 || m > maxTokens || i > 0 && m <= ms.get(i - 1)) {
        throw new IllegalArgumentException(
            key + ": must ascend, each in 1.." + maxTokens + " (M), was " + ms);
      }
    }
    return List.copyOf(ms);
  }

  /** The LM for a vocabulary: width = the encoder's token width, frames = the world's. */
  LmConfig lm(int vocab) {
    return new LmConfig(
        vocab,
        encoder.mqt().outputDim(),
        lmLayers,
        lmHeads,
        lmFfn,
        world.frames(),
        1024,
        norm,
        LmConfig.Mlp.SWIGLU,
        LmConfig.Positions.ROPE,
        10_000f,
        true,
        0,
        0,
        promptOrder,
        tokenIndex ? encoder.mqt().maxTokens() : 0,
        frameDifference,
        budgetEmbedding ? encoder.mqt().maxTokens() : 0,
        budgetNorms,
        budgetAdapterRank,
        budgetLoraRank);
  }

  /** Where each identity's own token lies ({@code summaryTokens}). */
  TokenLayout tokenLayout() {
    return new TokenLayout(summaryTokens);
  }

  /** The same run as a fixed-m baseline. */
  public TrainConfig withFixedM(int m) {
    return with(seed, m);
  }

  /**
   * The same recipe at another seed: other clips, questions and m at every step, and other initial
   * weights for whatever the run adds.
   */
  public TrainConfig withSeed(long other) {
    return with(other, fixedM);
  }

  private TrainConfig with(long newSeed, int newFixedM) {
    return new TrainConfig(
        newSeed,
        steps,
        visionSteps,
        objectSlots,
        alignmentSteps,
        batchSize,
        learningRate,
        warmupSteps,
        weightDecay,
        clipNorm,
        newFixedM,
        questionsPerClip,
        encoder,
        norm,
        lmLayers,
        lmHeads,
        lmFfn,
        world,
        curriculum,
        queryInit,
        promptOrder,
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
        trains);
  }
}
