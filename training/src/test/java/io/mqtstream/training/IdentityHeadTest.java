package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import io.mqtstream.reasoner.LmConfig;
import io.mqtstream.world.Clip;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The identity head's motion read, on tokens made from the world's ground truth: it must learn each
 * object's motion when the tokens hold the objects' places, and cannot when they hold only which
 * objects are there, so its targets, masks and frame pairing line up with the clips.
 */
class IdentityHeadTest {
  private static final int IDENTITIES = PatchTargets.SLOTS;
  private static final int TOKEN_DIM = 3 * IDENTITIES + 3; // presence, places, some noise
  private static final int TOKENS = 2;

  @Test
  void theMotionReadLearnsHowEachObjectMovedFromTokensThatHoldPlaces() {
    TrainConfig c = fourFrames();
    SyntheticWorld world = new SyntheticWorld(c.world());
    List<Clip> train = clips(world, Split.TRAIN, 256);
    List<Clip> test = clips(world, Split.TEST, 64);
    double constant = bestConstantMotionError(test);

    double withPlaces =
        trainedErrors(
            c, TOKEN_DIM, train, test, (scope, clips, r) -> tokens(scope, clips, true, r))[2];
    double presenceOnly =
        trainedErrors(
            c, TOKEN_DIM, train, test, (scope, clips, r) -> tokens(scope, clips, false, r))[2];

    assertThat(withPlaces).isLessThan(0.25 * constant);
    assertThat(presenceOnly).isGreaterThan(0.8 * constant);
  }

  /**
   * The token reads: from tokens where token 1 + i holds identity i (presence and place, in one
   * layout for all), the shared read learns every shown object's place; from the same tokens one
   * place off (identity i in token 2 + i), it reads another object's and cannot, so each identity
   * is read from its own token.
   */
  @Test
  void theTokenReadLearnsEachIdentitysPlaceFromItsOwnToken() {
    TrainConfig c = TrainerTest.withIdentityTokens(fourFrames(), 0f);
    SyntheticWorld world = new SyntheticWorld(c.world());
    List<Clip> train = clips(world, Split.TRAIN, 256);
    List<Clip> test = clips(world, Split.TEST, 64);
    double constant =
        bestConstantError(
            test,
            0,
            (clip, f, o) ->
                new double[] {
                  2 * o.x(f) / clip.imageSize() - 1, 2 * o.y(f) / clip.imageSize() - 1
                });

    float[] own =
        trainedErrors(
            c, SLOT_DIM, train, test, (scope, clips, r) -> slotTokens(scope, clips, 1, r));
    float[] offByOne =
        trainedErrors(
            c, SLOT_DIM, train, test, (scope, clips, r) -> slotTokens(scope, clips, 2, r));

    assertThat(own[4]).isLessThan((float) (0.1 * constant));
    assertThat(offByOne[4]).isGreaterThan((float) (0.8 * constant));
    assertThat(own[3]).isLessThan(offByOne[3]); // and whether it is shown
  }

  /**
   * With four summary tokens the token reads pair identity i with token {@link
   * TokenLayout#tokenOf}: on random tokens, every error equals the one-summary head's (same
   * weights) on the same tokens moved so that identity i's sits at 1 + i; at m = 4, where no
   * identity has its token, the reads are NaN and the loss stays finite (it adds no read).
   */
  @Test
  void withFourSummariesTheTokenReadsPairEachIdentityWithItsMovedToken() {
    TrainConfig one = TrainerTest.withQueries(TrainerTest.withIdentityTokens(fourFrames(), 1f), 20);
    TrainConfig four = TrainerTest.changed(one, "summaryTokens", 4);
    TokenLayout layout = new TokenLayout(4);
    SyntheticWorld world = new SyntheticWorld(one.world());
    List<Clip> clips = clips(world, Split.TEST, 8);
    int n = clips.size() * one.world().frames();
    int dim = 6;
    try (NDManager manager = NDManager.newBaseManager()) {
      IdentityHead headOne = new IdentityHead(dim, manager, one);
      IdentityHead headFour = new IdentityHead(dim, manager, four);
      headOne
          .weights()
          .parameters()
          .forEach(
              (name, p) ->
                  headFour
                      .weights()
                      .parameters()
                      .get(name)
                      .getArray()
                      .set(p.getArray().toFloatArray()));
      NDArray tokens = manager.randomNormal(new Shape(n, 20, dim)); // (N, 20, D), four's layout
      int[] from = new int[20]; // one's token k is four's token from[k]
      List<Integer> rest = new ArrayList<>(List.of(1, 2, 3, 19));
      for (int k = 0; k < 20; k++) {
        from[k] = k == 0 ? 0 : k <= IDENTITIES ? layout.tokenOf(k - 1) : rest.remove(0);
      }
      NDArray moved = // (N, 20, D), one's layout
          NDArrays.stack(
              new NDList(
                  Arrays.stream(from).mapToObj(k -> tokens.get(new NDIndex(":, " + k))).toList()),
              1);
      ParameterStore ps = new ParameterStore(manager, false);
      float[] y = targets(clips);
      NDList fourErrors = headFour.errors(ps, manager, tokens, y);
      NDList oneErrors = headOne.errors(ps, manager, moved, y);
      assertThat(fourErrors).hasSize(6);
      for (int e = 0; e < 6; e++) {
        float expected = oneErrors.get(e).getFloat();
        assertThat(expected).as("error %d", e).isFinite();
        assertThat(fourErrors.get(e).getFloat())
            .as("error %d", e)
            .isCloseTo(expected, within(1e-5f));
      }
      NDArray four4 = tokens.get(new NDIndex(":, :4"));
      NDList small = headFour.errors(ps, manager, four4, y);
      assertThat(small.get(3).getFloat()).as("no identity's token among 4").isNaN();
      assertThat(headFour.loss(ps, manager, four4, y).getFloat()).isFinite();
      assertThat(headOne.errors(ps, manager, four4, y).get(3).getFloat()).isFinite();
    }
  }

  private static final int SLOT_DIM = 5; // presence, x, y, two of noise

  /**
   * (clips·frames, 16, SLOT_DIM): token {@code first + i} holds identity i's presence (1 or 0) and
   * place from -1 to 1 where shown, the last two dimensions of every token noise.
   */
  private static NDArray slotTokens(NDManager scope, List<Clip> clips, int first, Random random) {
    int frames = clips.get(0).frames();
    int tokens = 16;
    float[] out = new float[clips.size() * frames * tokens * SLOT_DIM];
    for (int i = 0; i < clips.size(); i++) {
      Clip clip = clips.get(i);
      for (int t = 0; t < frames; t++) {
        int frame = (i * frames + t) * tokens * SLOT_DIM;
        for (SceneObject o : clip.visibleAt(t)) {
          int k = first + PatchTargets.slot(o.colour(), o.shape());
          if (k < tokens) {
            int at = frame + k * SLOT_DIM;
            out[at] = 1;
            out[at + 1] = (float) (2 * o.x(t) / clip.imageSize() - 1);
            out[at + 2] = (float) (2 * o.y(t) / clip.imageSize() - 1);
          }
        }
        for (int k = 0; k < tokens; k++) {
          out[frame + k * SLOT_DIM + 3] = (float) random.nextGaussian();
          out[frame + k * SLOT_DIM + 4] = (float) random.nextGaussian();
        }
      }
    }
    return scope.create(out, new Shape(clips.size() * frames, tokens, SLOT_DIM));
  }

  /** Tokens made from clips' ground truth. */
  interface Tokens {
    NDArray of(NDManager scope, List<Clip> clips, Random random);
  }

  /** The head's errors on {@code test} after 400 updates on {@code train}'s {@code tokens}. */
  private static float[] trainedErrors(
      TrainConfig c, int tokenDim, List<Clip> train, List<Clip> test, Tokens tokens) {
    try (NDManager manager = NDManager.newBaseManager()) {
      IdentityHead head = new IdentityHead(tokenDim, manager, c);
      Random random = new Random(1);
      for (int step = 1; step <= 400; step++) {
        List<Clip> batch = random.ints(16, 0, train.size()).mapToObj(train::get).toList();
        adamStep(
            head.weights(),
            manager,
            step,
            scope ->
                head.loss(
                    new ParameterStore(scope, false),
                    scope,
                    tokens.of(scope, batch, random),
                    targets(batch)));
      }
      try (NDManager scope = manager.newSubManager()) {
        NDList errors =
            head.errors(
                new ParameterStore(scope, false),
                scope,
                tokens.of(scope, test, new Random(2)),
                targets(test));
        float[] out = new float[errors.size()];
        for (int i = 0; i < out.length; i++) {
          out[i] = errors.get(i).getFloat();
        }
        return out;
      }
    }
  }

  /**
   * One Adam step (rate 0.05, no clipping) of a head on the loss {@code loss} builds in a scope.
   */
  static void adamStep(
      AuxiliaryWeights head, NDManager manager, int step, Function<NDManager, NDArray> loss) {
    try (NDManager scope = manager.newSubManager()) {
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        gc.backward(loss.apply(scope));
      }
      Map<String, NDArray> grads = new LinkedHashMap<>();
      head.parameters()
          .forEach((n, p) -> grads.put(n, AdamW.local(scope, p.getArray().getGradient())));
      head.optimizer().update(grads, 5e-2f, step, scope);
      grads.values().forEach(Trainer::clear);
    }
  }

  /**
   * (clips·frames, TOKENS, TOKEN_DIM), clip after clip, frame after frame: each identity shown, 1
   * and (with {@code places}) its place from -1 to 1, plus noise in the last dimensions.
   */
  private static NDArray tokens(NDManager scope, List<Clip> clips, boolean places, Random random) {
    int frames = clips.get(0).frames();
    float[] out = new float[clips.size() * frames * TOKENS * TOKEN_DIM];
    for (int i = 0; i < clips.size(); i++) {
      Clip clip = clips.get(i);
      for (int t = 0; t < frames; t++) {
        for (int k = 0; k < TOKENS; k++) {
          int at = ((i * frames + t) * TOKENS + k) * TOKEN_DIM;
          for (SceneObject o : clip.visibleAt(t)) {
            int slot = PatchTargets.slot(o.colour(), o.shape());
            out[at + slot] = 1;
            if (places) {
              out[at + IDENTITIES + 2 * slot] = (float) (2 * o.x(t) / clip.imageSize() - 1);
              out[at + IDENTITIES + 2 * slot + 1] = (float) (2 * o.y(t) / clip.imageSize() - 1);
            }
          }
          for (int d = 3 * IDENTITIES; d < TOKEN_DIM; d++) {
            out[at + d] = (float) random.nextGaussian();
          }
        }
      }
    }
    return scope.create(out, new Shape(clips.size() * frames, TOKENS, TOKEN_DIM));
  }

  private static float[] targets(List<Clip> clips) {
    return Trainer.identities(clips.stream().map(IdentityHead::targets).toList());
  }

  /**
   * Mean squared error per coordinate of guessing each identity's mean motion on these very clips
   * (change of place between consecutive frames where it is shown in both, place from -1 to 1,
   * times {@link IdentityHead#MOTION_SCALE}), computed from the objects' positions.
   */
  private static double bestConstantMotionError(List<Clip> clips) {
    return bestConstantError(
        clips,
        1,
        (clip, f, o) -> {
          if (!o.visibleAt(f - 1)) {
            return null;
          }
          double scale = IdentityHead.MOTION_SCALE * 2.0 / clip.imageSize();
          return new double[] {scale * (o.x(f) - o.x(f - 1)), scale * (o.y(f) - o.y(f - 1))};
        });
  }

  /** What is read of an object shown in frame f: two coordinates, or null for none. */
  interface Reading {
    double[] of(Clip clip, int f, SceneObject o);
  }

  /**
   * Mean squared error per coordinate of guessing, for each identity, the mean of its {@code
   * reading} over the objects shown in frames {@code from..} of these very clips: the best constant
   * guess, optimistic since it is fitted on the clips it is scored on.
   */
  static double bestConstantError(List<Clip> clips, int from, Reading reading) {
    ConstantGuess guess = new ConstantGuess(IDENTITIES, 2);
    for (Clip clip : clips) {
      for (int f = from; f < clip.frames(); f++) {
        for (SceneObject o : clip.visibleAt(f)) {
          double[] read = reading.of(clip, f, o);
          if (read != null) {
            guess.add(PatchTargets.slot(o.colour(), o.shape()), read);
          }
        }
      }
    }
    return guess.error();
  }

  private static List<Clip> clips(SyntheticWorld world, Split split, int n) {
    return java.util.stream.IntStream.range(0, n).mapToObj(i -> world.clip(split.seed(i))).toList();
  }

  /** The tiny test run in a world of 4 frames, with the identity head, its places and motion. */
  private static TrainConfig fourFrames() {
    WorldConfig four = new WorldConfig(32, 4, 1, 4, 0.6, 0.3, 0.0, null);
    return TrainerTest.variant(
        TrainerTest.tiny(8, 0, false, four),
        LmConfig.PromptOrder.FRAMES_FIRST,
        false,
        1,
        1f,
        true,
        1f);
  }
}
