package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Question;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The subject head on hidden states made from the world's ground truth: it must learn the named
 * object's place in every frame from states that hold that object's places at the answering
 * position, and cannot from states that hold another object's of the same clip there (that object
 * sits at the neighbouring positions), so its targets, its mask of hidden frames and its reading
 * position line up with the turns.
 */
class SubjectHeadTest {
  private static final int FRAMES = 4;
  private static final int DIM = 3 * FRAMES + 2; // per frame shown, x, y; two of noise
  private static final int LENGTH = 3; // a row's positions; the answer is read at the middle one

  /** A question about one object and another object of its clip. */
  record Turn(Clip clip, Question question, SceneObject other) {}

  @Test
  void theReadLearnsTheNamedObjectsPlacesFromTheStateWhereTheLmAnswers() {
    WorldConfig fourFrames = new WorldConfig(32, FRAMES, 1, 4, 0.6, 0.3, 0.0, null);
    TrainConfig c = TrainerTest.withSubject(TrainerTest.tiny(8, 0, false, fourFrames), 1f);
    SyntheticWorld world = new SyntheticWorld(c.world());
    List<Turn> train = turns(world, Split.TRAIN, 300);
    List<Turn> test = turns(world, Split.TEST, 100);
    double constant = bestConstantError(test);

    double own = trainedError(c, train, test, Turn::question);
    double other =
        trainedError(
            c,
            train,
            test,
            t -> new Question(t.question().type(), "", "", t.other())); // the wrong object

    assertThat(own).isLessThan(0.1 * constant);
    assertThat(other).isGreaterThan(0.8 * constant);
  }

  /**
   * The name read starts at zero, so its first steps move the head and send the LM nothing: a fresh
   * name read's error is the same whatever the states hold (here the named object's places, or
   * another object's), where a fresh answer read's, of random weights, is not.
   */
  @Test
  void theNameReadStartsAtZeroSoWhatItReadsDoesNotMatterYet() {
    WorldConfig fourFrames = new WorldConfig(32, FRAMES, 1, 4, 0.6, 0.3, 0.0, null);
    TrainConfig c = TrainerTest.withSubject(TrainerTest.tiny(8, 0, false, fourFrames), 1f);
    List<Turn> test = turns(new SyntheticWorld(c.world()), Split.TEST, 100);
    Function<Turn, Question> other = t -> new Question(t.question().type(), "", "", t.other());
    try (NDManager manager = NDManager.newBaseManager();
        NDManager scope = manager.newSubManager()) {
      ParameterStore ps = new ParameterStore(scope, false);
      NDArray own = hidden(scope, test, Turn::question, new Random(3));
      NDArray others = hidden(scope, test, other, new Random(4));
      long[] at = middles(test.size());
      float[] targets = targets(test);
      SubjectHead name = new SubjectHead(DIM, manager, c, SubjectHead.Reads.NAME);
      SubjectHead answer = new SubjectHead(DIM, manager, c, SubjectHead.Reads.ANSWER);
      float nameOwn = name.error(ps, scope, own, at, targets).getFloat();
      assertThat(nameOwn).isPositive();
      assertThat(name.error(ps, scope, others, at, targets).getFloat()).isEqualTo(nameOwn);
      assertThat(answer.error(ps, scope, others, at, targets).getFloat())
          .isNotEqualTo(answer.error(ps, scope, own, at, targets).getFloat());
    }
  }

  /** Each question with a subject, of clips that show another object at the last frame too. */
  private static List<Turn> turns(SyntheticWorld world, Split split, int clips) {
    List<Turn> out = new ArrayList<>();
    for (int i = 0; i < clips; i++) {
      Clip clip = world.clip(split.seed(i));
      for (Question q : world.questions(clip)) {
        if (q.subject() == null) {
          continue;
        }
        clip.visibleAt(clip.frames() - 1).stream()
            .filter(o -> !o.equals(q.subject()))
            .findFirst()
            .ifPresent(o -> out.add(new Turn(clip, q, o)));
      }
    }
    assertThat(out).hasSizeGreaterThan(clips / 2);
    return out;
  }

  /**
   * (K, LENGTH, DIM): at the middle position, {@link SubjectHead#targets} of {@code shown}'s
   * question; at the others, the other object's; noise in the last two dimensions everywhere.
   */
  private static NDArray hidden(
      NDManager scope, List<Turn> turns, Function<Turn, Question> shown, Random random) {
    float[] out = new float[turns.size() * LENGTH * DIM];
    for (int k = 0; k < turns.size(); k++) {
      Turn t = turns.get(k);
      float[] other =
          SubjectHead.targets(t.clip(), new Question(t.question().type(), "", "", t.other()));
      for (int p = 0; p < LENGTH; p++) {
        float[] held = p == 1 ? SubjectHead.targets(t.clip(), shown.apply(t)) : other;
        int at = (k * LENGTH + p) * DIM;
        System.arraycopy(held, 0, out, at, held.length);
        out[at + DIM - 2] = (float) random.nextGaussian();
        out[at + DIM - 1] = (float) random.nextGaussian();
      }
    }
    return scope.create(out, new Shape(turns.size(), LENGTH, DIM));
  }

  /** The head's error on {@code test} after 300 updates on {@code train}. */
  private static double trainedError(
      TrainConfig c, List<Turn> train, List<Turn> test, Function<Turn, Question> shown) {
    try (NDManager manager = NDManager.newBaseManager()) {
      SubjectHead head = new SubjectHead(DIM, manager, c, SubjectHead.Reads.ANSWER);
      Random random = new Random(1);
      for (int step = 1; step <= 300; step++) {
        List<Turn> batch = random.ints(32, 0, train.size()).mapToObj(train::get).toList();
        IdentityHeadTest.adamStep(
            head.weights(),
            manager,
            step,
            scope ->
                head.loss(
                    new ParameterStore(scope, false),
                    scope,
                    hidden(scope, batch, shown, random),
                    middles(batch.size()),
                    targets(batch)));
      }
      try (NDManager scope = manager.newSubManager()) {
        return head.error(
                new ParameterStore(scope, false),
                scope,
                hidden(scope, test, shown, new Random(2)),
                middles(test.size()),
                targets(test))
            .getFloat();
      }
    }
  }

  /** Row k's middle position in the flattened (K·LENGTH) states. */
  private static long[] middles(int k) {
    long[] at = new long[k];
    for (int i = 0; i < k; i++) {
      at[i] = (long) i * LENGTH + 1;
    }
    return at;
  }

  /** The turns' own targets: always the named object's. */
  private static float[] targets(List<Turn> turns) {
    float[] out = new float[turns.size() * 3 * FRAMES];
    for (int k = 0; k < turns.size(); k++) {
      Turn t = turns.get(k);
      System.arraycopy(
          SubjectHead.targets(t.clip(), t.question()), 0, out, k * 3 * FRAMES, 3 * FRAMES);
    }
    return out;
  }

  /**
   * Mean squared error per coordinate of guessing, per frame and axis, the mean place of the named
   * objects shown there, computed from the objects' positions on these very turns.
   */
  private static double bestConstantError(List<Turn> turns) {
    ConstantGuess guess = new ConstantGuess(FRAMES, 2);
    for (Turn t : turns) {
      SceneObject o = t.question().subject();
      int size = t.clip().imageSize();
      for (int f = 0; f < FRAMES; f++) {
        if (o.visibleAt(f)) {
          guess.add(f, 2 * o.x(f) / size - 1, 2 * o.y(f) / size - 1);
        }
      }
    }
    return guess.error();
  }
}
